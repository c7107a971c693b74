"""The counter's requests for a citizen's signature on their own phone."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, JSONType, UTCDateTime, utcnow
from engine.models import new_id

PENDING, SIGNED, EXPIRED, CANCELLED = "pending", "signed", "expired", "cancelled"


class SignatureRequest(Base):
    """One link the clerk shows as a QR code; it works once, for a few minutes.

    Only the SHA-256 of the link's token is kept. ``document`` holds the exact
    bytes of the 申請書 the citizen is shown, ``summary`` what it printed (so the
    signed copy prints the same). At most one request per case is pending (a
    partial unique index); signing is a guarded update on ``used_at IS NULL``.
    A pending request past ``expires_at`` reads as expired.
    """

    __tablename__ = "signature_requests"
    __table_args__ = (
        Index("ix_signature_requests_one_pending", "case_id", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    document: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    document_sha256: Mapped[str] = mapped_column(String(64))
    summary: Mapped[dict] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signature_png: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    signer_ip: Mapped[str | None] = mapped_column(String(45))
    signed_document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))

    def state(self, now: datetime) -> str:
        """The status as people see it: a pending request past its expiry is expired."""
        if self.status == PENDING and self.expires_at <= now:
            return EXPIRED
        return self.status
