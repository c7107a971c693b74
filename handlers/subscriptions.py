"""Which notices a member receives, and how (會員訂閱).

Each notice belongs to a topic (``EVENT_TOPICS``); a member turns each topic on
or off per channel, in-app or e-mail. Only what a member changed is stored:
duty and case notices are on until turned off, news is off until turned on.
Every mail carries a signed link that turns its topic's e-mail off without
signing in; the link names the member and the topic and nothing else.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from engine.errors import N_
from engine.models import Case, Service, Subscription, User

CHANNELS = ("in_app", "email")
CASE_UPDATES = "case_updates"
USED_SERVICES = "used_services"
CATEGORY_PREFIX = "category:"


@dataclass(frozen=True)
class Topic:
    key: str
    label: str          # marked N_: the web layer translates it
    audience: str       # citizen, staff, supervisor
    default: bool


TOPICS = {t.key: t for t in (
    Topic(CASE_UPDATES, N_("我的案件進度（含補正、結案、滿意度調查、意見回覆）"), "citizen", True),
    Topic(USED_SERVICES, N_("我申辦過的服務的最新消息"), "citizen", False),
    Topic("task_alerts", N_("工作到期提醒、逾期與稽催"), "staff", True),
    Topic("weekly_digest", N_("每週案件管考摘要"), "supervisor", True),
    Topic("catalog_review", N_("服務項目管考提醒"), "supervisor", True),
)}
EVENT_TOPICS = {
    "case_notice": CASE_UPDATES, "satisfaction_survey": CASE_UPDATES, "petition_reply": CASE_UPDATES,
    "task_due_soon": "task_alerts", "task_overdue": "task_alerts", "task_chase": "task_alerts",
    "weekly_digest": "weekly_digest", "catalog_review": "catalog_review",
}
_SALT = "unsubscribe"


def category_topic(category: str) -> str:
    return f"{CATEGORY_PREFIX}{category}"


def topic_of(event: str, **params) -> str:
    if event == "service_news":
        return params["topic"]
    return EVENT_TOPICS[event]


def default_for(topic: str) -> bool:
    known = TOPICS.get(topic)
    return known.default if known else False


def wants(s: Session, user_id: str, topic: str, channel: str) -> bool:
    row = s.get(Subscription, (user_id, topic, channel))
    return row.active if row is not None else default_for(topic)


def choices(s: Session, user_id: str, topics: Iterable[str]) -> dict[tuple[str, str], bool]:
    """Every (topic, channel) the member may set, with what is in force now."""
    stored = {(r.topic, r.channel): r.active
              for r in s.scalars(select(Subscription).where(Subscription.user_id == user_id))}
    return {(t, c): stored.get((t, c), default_for(t)) for t in topics for c in CHANNELS}


def choose(s: Session, user_id: str, topic: str, channel: str, active: bool, now: datetime) -> None:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    row = s.get(Subscription, (user_id, topic, channel))
    if row is None:
        s.add(Subscription(user_id=user_id, topic=topic, channel=channel, active=active, updated_at=now))
    else:
        row.active, row.updated_at = active, now


def topics_for(s: Session, user: User) -> list[str]:
    """The topics a member can choose: their own by audience, and news by service category."""
    if user.kind == "staff":
        audiences = {"staff"} | ({"supervisor"} if user.has_role("supervisor") else set())
        return [t.key for t in TOPICS.values() if t.audience in audiences]
    categories = s.scalars(select(Service.category).distinct().where(Service.online.is_(True))
                           .order_by(Service.category)).all()
    return [CASE_UPDATES, USED_SERVICES, *(category_topic(c) for c in categories if c)]


def news_readers(s: Session, service_key: str, category: str, channel: str) -> list[User]:
    """Members who asked for news of this service: by its category, or because they used it."""
    chose = lambda topic: exists().where(  # noqa: E731
        Subscription.user_id == User.id, Subscription.topic == topic, Subscription.channel == channel,
        Subscription.active.is_(True))
    used = exists().where(or_(Case.applicant_id == User.id, Case.agent_id == User.id),
                          Case.service_key == service_key)
    return list(s.scalars(select(User).where(
        User.active.is_(True), or_(chose(category_topic(category)), chose(USED_SERVICES) & used))
        .order_by(User.id)))


# -- the unsubscribe link ---------------------------------------------------------------------------

def unsubscribe_token(key: bytes, user_id: str, topic: str) -> str:
    return URLSafeSerializer(key, salt=_SALT).dumps([user_id, topic])


def read_unsubscribe_token(key: bytes, token: str) -> tuple[str, str] | None:
    """(user id, topic) from a link we signed; None for anything else."""
    try:
        user_id, topic = URLSafeSerializer(key, salt=_SALT).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    return str(user_id), str(topic)
