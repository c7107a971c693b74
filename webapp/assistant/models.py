"""Tables of the service catalog and of the questions the assistant could not answer."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, JSONType, UTCDateTime, utcnow


class CatalogItem(Base):
    """One service of the city's catalog; the few that run on this platform name their Service."""

    __tablename__ = "catalog_items"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(160), default="")
    agency: Mapped[str] = mapped_column(String(120))
    agency_code: Mapped[str | None] = mapped_column(ForeignKey("agencies.code"))
    category: Mapped[str] = mapped_column(String(40), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    documents: Mapped[list] = mapped_column(JSONType, default=list)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    mydata: Mapped[list] = mapped_column(JSONType, default=list)
    service_key: Mapped[str | None] = mapped_column(ForeignKey("services.key"))
    keywords: Mapped[list] = mapped_column(JSONType, default=list)
    apply_url: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UnansweredQuestion(Base):
    """A question the assistant had no good answer for, with personal data already scrubbed.

    One row per distinct scrubbed question (compared in normalised form); ``count`` says how
    often it was asked. Analysts mark a row handled once the catalog or synonyms cover it.
    """

    __tablename__ = "unanswered_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    text: Mapped[str] = mapped_column(String(200))
    normalised: Mapped[str] = mapped_column(String(200), unique=True)
    locale: Mapped[str] = mapped_column(String(8), default="zh_TW")
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
