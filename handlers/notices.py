"""Telling people things: an in-app notice, and an e-mail when mail is set up.

The mail is rendered when the notice is written, in the recipient's language,
and queued in the same transaction; a worker sends it once that committed.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from engine import agents, outbox
from engine.cases import HandlerContext
from engine.models import User

from . import mail


def notify_user(s: Session, user: User, text: str, link: str, settings: Mapping[str, Any], *,
                event: str, case_id: str | None = None, **params: Any) -> bool:
    """Notice ``user`` in the member centre (or staff inbox) and mail them; True if mail was queued."""
    agents.notify(s, user.id, text, link)
    if not (user.email and settings.get("mail_enabled")):
        return False
    subject, body = mail.render(event, user.locale, name=user.display_name,
                                link=settings.get("public_base_url", "").rstrip("/") + link, **params)
    outbox.enqueue(s, "email", {"to": user.email, "subject": subject, "body": body, "event": event},
                   case_id=case_id)
    return True


def notify_applicant(ctx: HandlerContext, message: str) -> dict:
    """Service task ``notify.applicant``: the applicant (and their agent) hear about the case."""
    link = f"/my/cases/{ctx.case.id}"
    mailed = 0
    for user_id in filter(None, (ctx.case.applicant_id, ctx.case.agent_id)):
        user = ctx.session.get(User, user_id)
        if user is None:
            continue
        mailed += notify_user(ctx.session, user, f"{ctx.case.number}：{message}", link, ctx.settings,
                              event="case_notice", case_id=ctx.case.id, number=ctx.case.number,
                              message=message)
    return {"sent": True, "mailed": mailed}
