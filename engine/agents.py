"""Authorising an agent (代辦): a citizen names someone who may apply in their name.

The principal gives the agent's national ID and birth date and receives a serial
(代辦序號) to pass on. The agent, signed in as themself, enters the serial and
accepts; only then may they act, and only for the named services until the date.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .access import Actor
from .errors import Forbidden, InvalidInput, NotFound
from .forms import is_tw_national_id
from .models import AgentAuthorization, Notification, Service, User

SERIAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

MESSAGES = {
    "zh_TW": {
        "bad_id": "身分證字號不正確",
        "bad_date": "日期格式不正確（YYYY-MM-DD）",
        "past": "期限須晚於今天",
        "no_service": "請至少選擇一項服務",
        "self": "不能授權給自己",
        "serial": "代辦序號不正確或已失效",
        "mismatch": "您的身分與申請人指定的代辦人不符",
    },
    "en": {
        "bad_id": "National ID number is not valid",
        "bad_date": "Use the format YYYY-MM-DD",
        "past": "The end date must be after today",
        "no_service": "Choose at least one service",
        "self": "You cannot authorise yourself",
        "serial": "The agent serial is wrong or no longer valid",
        "mismatch": "You are not the agent this authorisation names",
    },
}


def _message(key: str, locale: str) -> str:
    return MESSAGES["en" if locale.startswith("en") else "zh_TW"][key]


def agent_key(national_id: str, birth_date: str, pepper: bytes) -> str:
    """A keyed hash of who the agent is; the raw ID and birth date are not stored."""
    text = f"{national_id.strip().upper()}|{birth_date.strip()}".encode()
    return hmac.new(pepper, text, hashlib.sha256).hexdigest()


def _valid_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def authorize(s: Session, principal: Actor, agent_national_id: str, agent_birth_date: str,
              services: list[str], valid_until: str, pepper: bytes, today: date,
              locale: str = "zh_TW") -> AgentAuthorization:
    errors: dict[str, list[str]] = {}
    agent_id_no = (agent_national_id or "").strip().upper()
    if not is_tw_national_id(agent_id_no):
        errors["agent_national_id"] = [_message("bad_id", locale)]
    if _valid_date(agent_birth_date) is None:
        errors["agent_birth_date"] = [_message("bad_date", locale)]
    until = _valid_date(valid_until)
    if until is None:
        errors["valid_until"] = [_message("bad_date", locale)]
    elif until <= today:
        errors["valid_until"] = [_message("past", locale)]
    known = set(s.scalars(select(Service.key).where(Service.key.in_(services or []))))
    if not known:
        errors["services"] = [_message("no_service", locale)]
    me = s.get(User, principal.user_id)
    if me.national_id and me.national_id == agent_id_no:
        errors["agent_national_id"] = [_message("self", locale)]
    if errors:
        raise InvalidInput("bad authorisation", errors)
    grant = AgentAuthorization(
        serial="".join(secrets.choice(SERIAL_ALPHABET) for _ in range(8)),
        principal_id=principal.user_id,
        agent_key=agent_key(agent_id_no, agent_birth_date, pepper),
        services=sorted(known),
        valid_until=until.isoformat(),
        status="pending",
    )
    s.add(grant)
    s.flush()
    return grant


def pending_by_serial(s: Session, serial: str, today: date) -> AgentAuthorization | None:
    grant = s.scalar(select(AgentAuthorization).where(
        AgentAuthorization.serial == (serial or "").strip().upper()))
    if grant is None or grant.status != "pending" or grant.valid_until < today.isoformat():
        return None
    return grant


def accept(s: Session, agent: Actor, serial: str, pepper: bytes, now: datetime, today: date,
           locale: str = "zh_TW") -> AgentAuthorization:
    grant = pending_by_serial(s, serial, today)
    if grant is None:
        raise InvalidInput("bad serial", {"serial": [_message("serial", locale)]})
    me = s.get(User, agent.user_id)
    if not me.national_id or not me.birth_date or not hmac.compare_digest(
            agent_key(me.national_id, me.birth_date, pepper), grant.agent_key):
        raise InvalidInput("not the named agent", {"serial": [_message("mismatch", locale)]})
    grant.status = "accepted"
    grant.agent_id = me.id
    grant.accepted_at = now
    notify(s, grant.principal_id, f"{me.display_name[0]}○{me.display_name[-1]} 已接受您的代辦授權。",
           "/my/agents")
    return grant


def revoke(s: Session, principal: Actor, grant_id: str, now: datetime) -> AgentAuthorization:
    grant = s.get(AgentAuthorization, grant_id)
    if grant is None or grant.principal_id != principal.user_id:
        raise NotFound("no such authorisation")
    grant.status = "revoked"
    grant.revoked_at = now
    if grant.agent_id:
        notify(s, grant.agent_id, "一項代辦授權已被申請人撤銷。", "/my/agents")
    return grant


def acting_for(s: Session, agent_id: str, service_key: str, today: date) -> list[AgentAuthorization]:
    """The principals ``agent_id`` may apply for, for this service, today."""
    grants = s.scalars(select(AgentAuthorization).where(
        AgentAuthorization.agent_id == agent_id, AgentAuthorization.status == "accepted",
        AgentAuthorization.valid_until >= today.isoformat()))
    return [g for g in grants if service_key in (g.services or [])]


def check_may_act(s: Session, actor: Actor, principal_id: str, service_key: str, today: date) -> None:
    if not any(g.principal_id == principal_id for g in acting_for(s, actor.user_id, service_key, today)):
        raise Forbidden("no authorisation to act for this applicant")


def notify(s: Session, user_id: str, text: str, link: str | None = None) -> None:
    s.add(Notification(user_id=user_id, text=text, link=link))
