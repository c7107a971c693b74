"""The engine and its collaborators, as the web app holds them."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

import handlers
from engine.calendar import taiwan_calendar
from engine.cases import CaseEngine
from engine.db import make_engine, make_session_factory
from engine.forms import FormRegistry
from engine.workflow import HandlerRegistry
from engine.outbox import Sender
from engine.studio.drafts import Studio
from handlers import geo, mail, satisfaction
from handlers.mydata.config import MyDataConfig
from handlers.petitions import opinions
from handlers.petitions.client import Settings1999
from reports import heatmap


@dataclass
class Services:
    db: Engine
    sessions: sessionmaker[Session]
    engine: CaseEngine
    forms: FormRegistry
    mydata: MyDataConfig | None = None
    senders: dict[str, Sender] = field(default_factory=dict)
    petitions: Settings1999 | None = None
    studio: Studio | None = None


def _derived_key(config: dict, purpose: str) -> bytes:
    """A key of its own for each use of the secret key."""
    return hashlib.sha256(f"{purpose}:{config['SECRET_KEY']}".encode()).digest()


def build(config: dict) -> Services:
    db = make_engine(config["DATABASE_URL"])
    sessions = make_session_factory(db)
    forms = FormRegistry(Path(config["FORMS_DIR"]), derivations={"districts_crossed": geo.districts_crossed})
    registry = handlers.register_all(HandlerRegistry(), on_permit_issued=(heatmap.record_permit,))
    smtp = config.get("SMTP")
    engine = CaseEngine(sessions, forms, registry, calendar=taiwan_calendar(), settings={
        "public_base_url": config["PUBLIC_BASE_URL"],
        "agent_pepper": _derived_key(config, "agent"),
        "throttle_pepper": _derived_key(config, "throttle"),
        "unsubscribe_key": _derived_key(config, "unsubscribe"),
        "mail_enabled": smtp is not None}, on_closed=(satisfaction.ask,))
    senders = {"email": mail.smtp_sender(smtp)} if smtp else {}
    petitions = config.get("PETITION_1999")
    if petitions is not None:
        senders["petition"] = opinions.sender(sessions, petitions)
    return Services(db, sessions, engine, forms, mydata=config.get("MYDATA"), senders=senders,
                    petitions=petitions, studio=Studio(engine))


def get() -> Services:
    return current_app.extensions["onestop"]
