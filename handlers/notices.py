"""Telling people things: an in-app notice, and an e-mail when mail is set up.

The mail is rendered when the notice is written, in the recipient's language,
and queued in the same transaction; a worker sends it once that committed.
Each channel is sent only if the member wants the notice's topic there
(``subscriptions``), and every mail ends with a link that turns its topic off.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from engine import agents, outbox
from engine.cases import HandlerContext
from engine.models import User

from . import mail, subscriptions


def notify_user(s: Session, user: User, text: str, link: str, settings: Mapping[str, Any], *,
                event: str, case_id: str | None = None, **params: Any) -> bool:
    """Notice ``user`` in the member centre (or staff inbox) and mail them; True if mail was queued."""
    topic = subscriptions.topic_of(event, **params)
    if subscriptions.wants(s, user.id, topic, "in_app"):
        agents.notify(s, user.id, text, link)
    return mail_user(s, user, settings, event=event, link=link, case_id=case_id, **params)


def mail_user(s: Session, user: User, settings: Mapping[str, Any], *, event: str, link: str,
              case_id: str | None = None, attachments: Sequence[dict] = (), **params: Any) -> bool:
    """Queue the event's mail to ``user`` if mail is on and they want its topic by e-mail."""
    topic = subscriptions.topic_of(event, **params)
    if not (user.email and settings.get("mail_enabled")) or not subscriptions.wants(s, user.id, topic, "email"):
        return False
    base = settings.get("public_base_url", "").rstrip("/")
    stop = f"{base}/unsubscribe/{subscriptions.unsubscribe_token(settings['unsubscribe_key'], user.id, topic)}"
    subject, body = mail.render(event, user.locale, name=user.display_name,
                                link=link if link.startswith("http") else base + link, **params)
    body = body.rstrip("\n") + "\n\n" + mail.render_footer(user.locale, unsubscribe=stop)
    outbox.enqueue(s, "email", {"to": user.email, "subject": subject, "body": body, "event": event,
                                "unsubscribe": stop, "attachments": list(attachments)}, case_id=case_id)
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
