"""Handlers that tell people things from inside a diagram."""
from __future__ import annotations

from engine import agents, outbox
from engine.cases import HandlerContext
from engine.models import User

from . import mail


def notify_applicant(ctx: HandlerContext, message: str) -> dict:
    """Service task ``notify.applicant``: an in-app notice and an e-mail to the applicant (and agent).

    The mail is rendered now, in the recipient's language, and queued in the
    case's transaction; a worker sends it once the case has committed.
    """
    link = f"/my/cases/{ctx.case.id}"
    mailed = 0
    for user_id in filter(None, (ctx.case.applicant_id, ctx.case.agent_id)):
        agents.notify(ctx.session, user_id, f"{ctx.case.number}：{message}", link)
        user = ctx.session.get(User, user_id)
        if user is not None and user.email and ctx.settings.get("mail_enabled"):
            subject, body = mail.render("case_notice", user.locale, number=ctx.case.number,
                                        name=user.display_name, message=message,
                                        link=ctx.settings.get("public_base_url", "").rstrip("/") + link)
            outbox.enqueue(ctx.session, "email", {"to": user.email, "subject": subject, "body": body,
                                                  "event": "case_notice"}, case_id=ctx.case.id)
            mailed += 1
    return {"sent": True, "mailed": mailed}
