"""管考 of the service catalog: each item's owner agency re-checks its text every review interval.

A singleton job of the workers reminds the owner's supervisors when an item is
stale, then again each week until someone marks it reviewed.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.db import transaction
from engine.models import Service

from .escalation import supervisors
from .notices import notify_user

NAG_EVERY = timedelta(days=7)


def stale(service: Service, now: datetime) -> bool:
    return service.reviewed_at is None or service.reviewed_at + timedelta(days=service.review_interval_days) <= now


def remind_stale(sessions: sessionmaker[Session], now: datetime, settings: Mapping[str, Any]) -> int:
    """Tell the owners of stale catalog items; returns how many items were raised."""
    raised = 0
    with transaction(sessions) as s:
        for service in s.scalars(select(Service).order_by(Service.key)):
            if not stale(service, now):
                continue
            if service.review_reminded_at is not None and service.review_reminded_at + NAG_EVERY > now:
                continue
            days = (now - service.reviewed_at).days if service.reviewed_at else None
            since = f"已 {days} 天未檢視" if days is not None else "尚未檢視"
            for user in supervisors(s, service.owner_agency):
                notify_user(s, user, f"服務項目「{service.name}」{since}，請確認說明、應備文件與流程是否正確。",
                            "/supervise/catalog", settings, event="catalog_review", service=service.name,
                            since=since)
            service.review_reminded_at = now
            raised += 1
    return raised
