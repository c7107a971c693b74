"""MyData downloads, run by workers: claim a due transfer, download, verify, extract.

The HTTP call never runs inside a database transaction. The raw package is
written durably before extraction and purged right after, keeping its hash.
"""
from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from engine import audit, documents, provenance
from engine.db import transaction, utcnow
from engine.documents import Upload
from engine.models import Draft, MyDataPackage, MyDataRecord, MyDataTransaction, User

from . import client, extract, package
from .config import MyDataConfig
from .datasets import RESOURCES

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=120)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(300, 5 * 2 ** min(attempts, 6)))


def claim_due(sessions: sessionmaker[Session], now: datetime, limit: int = 10) -> list[MyDataTransaction]:
    """Lease due transfers so that no other worker takes them meanwhile."""
    with transaction(sessions) as s:
        query = (select(MyDataTransaction)
                 .where(MyDataTransaction.status == "authorized",
                        MyDataTransaction.next_attempt_at <= now)
                 .order_by(MyDataTransaction.next_attempt_at).limit(limit))
        if s.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        claimed = list(s.scalars(query))
        for tx in claimed:
            tx.attempts += 1
            tx.next_attempt_at = now + LEASE
        return claimed


def run_due(sessions: sessionmaker[Session], cfg: MyDataConfig, now: datetime | None = None) -> int:
    """One sweep; returns how many transfers were attempted."""
    now = now or utcnow()
    due = claim_due(sessions, now)
    for tx in due:
        try:
            attempt(sessions, cfg, tx, now)
        except Exception as exc:  # noqa: BLE001 - a failed attempt is retried, never lost
            log.warning("mydata transfer %s attempt failed: %s", tx.tx_id, exc.__class__.__name__)
            _retry_later(sessions, tx.tx_id, now, f"{exc.__class__.__name__}: {exc}"[:500])
    return len(due)


def attempt(sessions: sessionmaker[Session], cfg: MyDataConfig, tx: MyDataTransaction,
            now: datetime) -> None:
    if now > tx.expires_at:
        _finish(sessions, tx.tx_id, "expired", "the 8-hour download window has passed")
        return
    if tx.mode == "counter":
        attempt_counter(sessions, cfg, tx)
        return
    if not tx.secret_key:
        _finish(sessions, tx.tx_id, "failed",
                "unable to deliver: " + ", ".join(tx.unable_to_deliver or []))
        return
    result = client.download(cfg, tx.permission_ticket, tx.tx_id)
    if result.status == "ready":
        zipped = client.decrypt_package(cfg, tx.secret_key, result.payload)
        keep_package(sessions, tx.tx_id, zipped)
        extract_stored(sessions, cfg, tx.tx_id)
    elif result.status == "wait":
        with transaction(sessions) as s:
            later = now + timedelta(seconds=result.retry_after)
            s.get(MyDataTransaction, tx.tx_id).next_attempt_at = min(later, tx.expires_at)
    elif result.status == "already":
        already_fetched(sessions, cfg, tx.tx_id)
    elif result.status == "gone":
        _finish(sessions, tx.tx_id, "failed", f"MyData answered {result.http_status}")
    else:
        _retry_later(sessions, tx.tx_id, now, f"MyData answered {result.http_status}")


def attempt_counter(sessions: sessionmaker[Session], cfg: MyDataConfig, tx: MyDataTransaction) -> None:
    """Counter mode: the one-time password the citizen read out fetches the package."""
    answer = client.counter_fetch(cfg, tx.barcode, tx.otp or "")
    if answer.status == "ready":
        with transaction(sessions) as s:
            s.get(MyDataTransaction, tx.tx_id).secret_key = answer.secret_key
        zipped = client.decrypt_package(cfg, answer.secret_key, answer.jwe)
        keep_package(sessions, tx.tx_id, zipped)
        extract_stored(sessions, cfg, tx.tx_id)
        return
    with transaction(sessions) as s:
        row = s.get(MyDataTransaction, tx.tx_id)
        row.otp = None
        row.next_attempt_at = None
        row.status = "otp_wrong" if answer.status == "wrong_otp" else "failed"
        row.last_error = f"counter: {answer.status}" + (
            f", {answer.remaining} tries left" if answer.remaining is not None else "")


def keep_package(sessions: sessionmaker[Session], tx_id: str, zipped: bytes) -> None:
    """Durable write first: a crash after this point loses nothing (201 on retry)."""
    with transaction(sessions) as s:
        tx = s.get(MyDataTransaction, tx_id)
        s.merge(MyDataPackage(tx_id=tx_id, content=zipped))
        tx.package_sha256 = hashlib.sha256(zipped).hexdigest()
        tx.fetched_at = utcnow()
        tx.status = "fetched"


def already_fetched(sessions: sessionmaker[Session], cfg: MyDataConfig, tx_id: str) -> None:
    """201: the ticket worked once already. Use what we stored, if anything."""
    with sessions() as s:
        stored = s.get(MyDataPackage, tx_id) is not None
        extracted = s.scalar(select(MyDataRecord.id).where(MyDataRecord.tx_id == tx_id).limit(1))
    if stored:
        extract_stored(sessions, cfg, tx_id)
    elif extracted:
        _finish(sessions, tx_id, "extracted", None)
    else:
        _finish(sessions, tx_id, "failed", "the package was already downloaded elsewhere")


def extract_stored(sessions: sessionmaker[Session], cfg: MyDataConfig, tx_id: str) -> None:
    """Verify the stored package, record each dataset, prefill the draft, purge the package."""
    with transaction(sessions) as s:
        tx = s.get(MyDataTransaction, tx_id)
        stored = s.get(MyDataPackage, tx_id)
        verified = package.open_package(stored.content, list(cfg.trust_store))
        if tx.mode == "counter" and tx.draft_id is None:
            _counter_draft(s, tx, verified)
        fields: dict[str, dict] = {}
        for dataset in verified.datasets:
            record = MyDataRecord(tx_id=tx_id, resource_id=dataset.resource_id,
                                  resource_name=dataset.resource_name or RESOURCES.get(dataset.resource_id, ""),
                                  provider=dataset.provider or "", code=dataset.code,
                                  verified=dataset.ok, problems=list(dataset.problems))
            if dataset.ok:
                record.fields = extract.extract(dataset.resource_id, dataset.files)
                record.document_ids = _store_pdfs(s, tx, dataset)
                fields[dataset.resource_id] = record.fields
            s.add(record)
        if tx.draft_id:
            _prefill(s, tx, fields)
        s.delete(stored)
        tx.purged_at = utcnow()
        tx.status = "extracted"
        tx.next_attempt_at = None
        audit.append(s, "mydata.receive", actor_id=tx.user_id, case_id=tx.case_id,
                     purpose=tx.service_key, result="ok",
                     detail={"tx_id": tx_id, "datasets": [d.resource_id for d in verified.datasets if d.ok],
                             "refused": [d.resource_id for d in verified.datasets if not d.ok],
                             "sha256": verified.sha256})


def _store_pdfs(s: Session, tx: MyDataTransaction, dataset) -> list[str]:
    ids = []
    for name, content in sorted(dataset.files.items()):
        if name.lower().endswith(".pdf"):
            doc = documents.store(s, Upload(name, f"{dataset.resource_name or dataset.resource_id}.pdf", content),
                                  tx.subject_id or tx.user_id, case_id=tx.case_id, draft_id=tx.draft_id)
            ids.append(doc.id)
    return ids


def _counter_draft(s: Session, tx: MyDataTransaction, verified) -> None:
    """At the counter the data says who the applicant is; the clerk's draft is for them."""
    subject = next((extract.subject(d.files) for d in verified.datasets if d.ok), None)
    if not subject:
        return
    user = s.scalar(select(User).where(User.national_id == subject["national_id"]))
    if user is None:
        user = User(username=f"counter-{subject['national_id'].lower()}", kind="citizen", roles=[],
                    display_name=subject.get("name") or subject["national_id"],
                    national_id=subject["national_id"])
        s.add(user)
        s.flush()
    draft = Draft(user_id=tx.user_id, service_key=tx.service_key, principal_id=user.id, data={})
    s.add(draft)
    s.flush()
    tx.subject_id = user.id
    tx.draft_id = draft.id


def _prefill(s: Session, tx: MyDataTransaction, fields: dict[str, dict]) -> None:
    draft = s.get(Draft, tx.draft_id)
    fill = extract.PREFILL.get(tx.service_key)
    if draft is None or fill is None:
        return
    data, sources = fill(draft.data or {}, fields)
    draft.data = data
    draft.sources = {**(draft.sources or {}), **sources}
    values = provenance.leaf_values(data)
    draft.prefilled = {**(draft.prefilled or {}), **{p: values[p] for p in sources if p in values}}
    draft.updated_at = utcnow()


def _retry_later(sessions: sessionmaker[Session], tx_id: str, now: datetime, error: str) -> None:
    with transaction(sessions) as s:
        tx = s.get(MyDataTransaction, tx_id)
        tx.last_error = error
        if tx.attempts >= 30 or now > tx.expires_at:
            tx.status = "failed"
            tx.next_attempt_at = None
        else:
            tx.next_attempt_at = min(now + _backoff(tx.attempts), tx.expires_at)


def _finish(sessions: sessionmaker[Session], tx_id: str, status: str, error: str | None) -> None:
    with transaction(sessions) as s:
        tx = s.get(MyDataTransaction, tx_id)
        tx.status = status
        tx.last_error = error
        tx.next_attempt_at = None



def link_to_case(sessions: sessionmaker[Session], draft_id: str, case_id: str) -> None:
    """A submitted draft's transfers become the case's: clerks see them on its pages."""
    with transaction(sessions) as s:
        for tx in s.scalars(select(MyDataTransaction).where(MyDataTransaction.draft_id == draft_id)):
            tx.case_id = case_id


def purge_expired(sessions: sessionmaker[Session], retention: timedelta, now: datetime | None = None) -> int:
    """Delete transmission records past their retention period (the law asks for at least a year).

    Raw packages never outlive extraction; any left behind by a crash go once the
    8-hour window is over, since MyData no longer has the data either.
    """
    now = now or utcnow()
    with transaction(sessions) as s:
        stale = s.scalars(select(MyDataPackage.tx_id).join(MyDataTransaction).where(
            MyDataTransaction.expires_at < now)).all()
        for tx_id in stale:
            s.delete(s.get(MyDataPackage, tx_id))
            s.get(MyDataTransaction, tx_id).purged_at = now
        old = s.scalars(select(MyDataTransaction.tx_id).where(
            MyDataTransaction.created_at < now - retention)).all()
        if old:
            s.execute(delete(MyDataRecord).where(MyDataRecord.tx_id.in_(old)))
            s.execute(delete(MyDataPackage).where(MyDataPackage.tx_id.in_(old)))
            s.execute(delete(MyDataTransaction).where(MyDataTransaction.tx_id.in_(old)))
            audit.append(s, "mydata.retention_purge", detail={"transfers": len(old)})
        return len(old)


def draft_facts(sessions: sessionmaker[Session], draft_id: str) -> dict:
    """Verified MyData facts of a draft's transfers, for the case it becomes."""
    with sessions() as s:
        records = s.scalars(select(MyDataRecord).join(MyDataTransaction).where(
            MyDataTransaction.draft_id == draft_id, MyDataRecord.verified.is_(True))
            .order_by(MyDataRecord.fetched_at)).all()
        return extract.case_facts({r.resource_id: r.fields for r in records})
