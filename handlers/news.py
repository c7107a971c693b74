"""Service news (服務最新消息) to the members who asked for it."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from engine import agents
from engine.models import Service

from . import subscriptions
from .notices import mail_user


def publish(s: Session, service: Service, text: str, settings: Mapping[str, Any]) -> int:
    """Tell each reader once per channel they chose; returns how many members were told."""
    link = f"/services/{service.key}"
    category = subscriptions.category_topic(service.category)
    told = set()
    for user in subscriptions.news_readers(s, service.key, service.category, "in_app"):
        agents.notify(s, user.id, f"{service.name}：{text}", link)
        told.add(user.id)
    for user in subscriptions.news_readers(s, service.key, service.category, "email"):
        topic = category if subscriptions.wants(s, user.id, category, "email") else subscriptions.USED_SERVICES
        if mail_user(s, user, settings, event="service_news", link=link, topic=topic, service=service.name,
                     text=text):
            told.add(user.id)
    return len(told)
