"""A signature request from opening to signing: tokens, the document, the guarded sign.

Nothing here knows about requests or pages; the views pass sessions, times and
addresses in. PDFs are rendered outside transactions (it takes a moment) and the
transactions only write.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import case as when
from sqlalchemy import select, update
from sqlalchemy.orm import Session, undefer

from engine import audit, documents
from engine.cases import CaseEngine
from engine.documents import Upload
from engine.masking import mask_id, mask_name
from engine.models import Agency, Case, User
from handlers.application_pdf import (
    ApplicationDocument,
    Entry,
    SignatureBlock,
    entries_of,
    render_application_pdf,
)

from .models import CANCELLED, EXPIRED, PENDING, SIGNED, SignatureRequest

SIGNED_FILENAME = "申請書（已簽名）.pdf"
TOKEN_BYTES = 32
UNKNOWN = "unknown"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def application_document(s: Session, engine: CaseEngine, case: Case, document_id: str,
                         now: datetime) -> ApplicationDocument:
    """The 申請書 of ``case`` as it stands: the application under its form's labels."""
    form = engine.forms_of(s, case.definition_id).get(case.service.application_form)
    application = engine.task_data(s, case).get("application") or {}
    applicant = s.get(User, case.applicant_id)
    agency = s.get(Agency, case.owner_agency)
    return ApplicationDocument(
        document_id=document_id,
        service_name=case.service.name,
        case_number=case.number,
        agency_name=agency.name if agency else "",
        applicant_name=applicant.display_name,
        applicant_id_masked=mask_id(applicant.company_id or applicant.national_id),
        applied_at=case.opened_at,
        prepared_at=now,
        entries=entries_of(form, application),
    )


@dataclass(frozen=True)
class Opening:
    """A request about to be opened: its id, the token for the link, and the document to sign."""

    request_id: str
    token: str
    document: bytes
    summary: ApplicationDocument


def prepare(doc: ApplicationDocument) -> Opening:
    """Render the document to sign and draw the link's token (outside any transaction: it takes a moment)."""
    return Opening(doc.document_id, new_token(), render_application_pdf(doc), doc)


def open_request(s: Session, opening: Opening, case_id: str, clerk_id: str, now: datetime,
                 ttl: timedelta, ip: str | None) -> list[str]:
    """Store the request, ending any pending one of the case; returns the ids it ended."""
    s.execute(select(Case.id).where(Case.id == case_id).with_for_update())
    ended = list(s.scalars(select(SignatureRequest.id).where(
        SignatureRequest.case_id == case_id, SignatureRequest.status == PENDING)))
    if ended:
        s.execute(update(SignatureRequest)
                  .where(SignatureRequest.id.in_(ended), SignatureRequest.status == PENDING)
                  .values(status=when((SignatureRequest.expires_at <= now, EXPIRED), else_=CANCELLED)),
                  execution_options={"synchronize_session": False})
    digest = sha256(opening.document)
    s.add(SignatureRequest(id=opening.request_id, case_id=case_id, token_hash=token_hash(opening.token),
                           document=opening.document, document_sha256=digest,
                           summary=opening.summary.as_json(), status=PENDING, created_by=clerk_id,
                           created_at=now, expires_at=now + ttl))
    audit.append(s, "signature.request", actor_id=clerk_id, case_id=case_id, ip=ip,
                 detail={"request_id": opening.request_id, "document_sha256": digest, "ended": ended})
    return ended


def find_by_token(s: Session, token: str) -> SignatureRequest | None:
    return s.scalar(select(SignatureRequest).options(undefer(SignatureRequest.document))
                    .where(SignatureRequest.token_hash == token_hash(token)))


def latest_for_case(s: Session, case_id: str) -> SignatureRequest | None:
    return s.scalar(select(SignatureRequest).where(SignatureRequest.case_id == case_id)
                    .order_by(SignatureRequest.created_at.desc()).limit(1))


def signature_image(s: Session, request_id: str) -> bytes | None:
    return s.scalar(select(SignatureRequest.signature_png).where(SignatureRequest.id == request_id))


def gone_reason(request: SignatureRequest | None, now: datetime) -> str | None:
    """Why the link no longer works (unknown, expired, signed, cancelled), or None while it does."""
    if request is None:
        return UNKNOWN
    state = request.state(now)
    return None if state == PENDING else state


def signed_copy(request: SignatureRequest, png: bytes, signed_at: datetime) -> bytes:
    """The document the citizen saw, with their signature, embedding the unsigned bytes."""
    doc = ApplicationDocument.from_json(request.summary)
    block = SignatureBlock(png, signed_at, request.document_sha256, request.id)
    return render_application_pdf(doc, block, unsigned_pdf=request.document)


def record_signature(s: Session, request: SignatureRequest, applicant_id: str, png: bytes,
                     signed_pdf: bytes, now: datetime, ip: str | None) -> str | None:
    """Mark the request used and keep the signed copy as a case document; None if it was not pending.

    The update is guarded on ``used_at IS NULL``, so of two submissions only one wins.
    """
    won = s.execute(
        update(SignatureRequest)
        .where(SignatureRequest.id == request.id, SignatureRequest.used_at.is_(None),
               SignatureRequest.status == PENDING, SignatureRequest.expires_at > now)
        .values(used_at=now, signed_at=now, status=SIGNED, signature_png=png, signer_ip=ip),
        execution_options={"synchronize_session": False}).rowcount
    if won != 1:
        return None
    doc = documents.store(s, Upload("signature", SIGNED_FILENAME, signed_pdf), applicant_id,
                          case_id=request.case_id)
    s.execute(update(SignatureRequest).where(SignatureRequest.id == request.id)
              .values(signed_document_id=doc.id), execution_options={"synchronize_session": False})
    audit.append(s, "signature.sign", on_behalf_of=applicant_id, case_id=request.case_id, ip=ip,
                 detail={"request_id": request.id, "document_sha256": request.document_sha256,
                         "signature_sha256": sha256(png), "signed_document_id": doc.id,
                         "signed_document_sha256": doc.sha256})
    return doc.id


def note_attempt(s: Session, action: str, request: SignatureRequest, ip: str | None, result: str = "ok") -> None:
    """Audit a view of the signing page, or a refused submission, against the request's case."""
    audit.append(s, action, case_id=request.case_id, ip=ip, result=result,
                 detail={"request_id": request.id})


def _mask_contact(value: str) -> str:
    """``0912345678`` → ``*******678``; ``someone@example.tw`` → ``s******@example.tw``."""
    if "@" in value:
        local, _at, domain = value.partition("@")
        return local[:1] + "*" * max(1, len(local) - 1) + "@" + domain
    return "*" * max(1, len(value) - 3) + value[-3:]


def _identifiers(applicant: User) -> dict[str, str]:
    """The applicant's own identifiers, each with what to show instead."""
    found = {applicant.display_name: mask_name(applicant.display_name)}
    for value in (applicant.national_id, applicant.company_id):
        if value:
            found[value] = mask_id(value)
    for value in (applicant.email, applicant.phone):
        if value:
            found[value] = _mask_contact(value)
    return {k: v for k, v in found.items() if k and len(k) >= 2}


def _redacted_text(text: str, identifiers: dict[str, str]) -> str:
    if not identifiers:
        return text
    pattern = re.compile("|".join(re.escape(k) for k in sorted(identifiers, key=len, reverse=True)))
    return pattern.sub(lambda m: identifiers[m.group(0)], text)


def _redacted_entry(entry: Entry, identifiers: dict[str, str]) -> Entry:
    def clean(text: str) -> str:
        return _redacted_text(text, identifiers)

    return replace(entry,
                   lines=tuple(clean(line) for line in entry.lines),
                   children=tuple(_redacted_entry(c, identifiers) for c in entry.children),
                   rows=tuple(tuple(clean(cell) for cell in row) for row in entry.rows))


def phone_summary(request: SignatureRequest, applicant: User) -> tuple[Entry, ...]:
    """What the phone page lists: the document's fields with the applicant's identifiers masked.

    Anyone who photographs the counter's QR code could open the page while it
    is valid, so the page names the applicant only in masked form.
    """
    identifiers = _identifiers(applicant)
    return tuple(_redacted_entry(e, identifiers) for e in ApplicationDocument.from_json(request.summary).entries)
