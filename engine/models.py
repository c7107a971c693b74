"""Tables of the case engine.

Workflow state lives in ``cases.state`` without its spec; everything a list or an
inbox needs (human tasks, searchable fields, the next timer) is a derived row or
column rewritten in the same transaction as the state, so nobody deserialises
workflow state to draw a list.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base, JSONType, UTCDateTime, utcnow


def new_id() -> str:
    return uuid.uuid4().hex


class Agency(Base):
    """A bureau, a section of one, a district office or a police sub-bureau."""

    __tablename__ = "agencies"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))  # bureau, section, district, police
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("agencies.code"))
    districts: Mapped[list] = mapped_column(JSONType, default=list)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(12))  # citizen, staff, system
    roles: Mapped[list] = mapped_column(JSONType, default=list)
    agency_code: Mapped[str | None] = mapped_column(ForeignKey("agencies.code"))
    national_id: Mapped[str | None] = mapped_column(String(20))
    birth_date: Mapped[str | None] = mapped_column(String(10))
    company_id: Mapped[str | None] = mapped_column(String(8))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(30))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(8), default="zh_TW", server_default="zh_TW")
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agency: Mapped[Agency | None] = relationship()

    def has_role(self, role: str) -> bool:
        return role in (self.roles or [])


class Definition(Base):
    """One deployed version of one service's diagram."""

    __tablename__ = "definitions"
    __table_args__ = (UniqueConstraint("service_key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_key: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[int] = mapped_column(Integer)
    process_id: Mapped[str] = mapped_column(String(80))
    bpmn_xml: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(12), default="published")
    lint: Mapped[list] = mapped_column(JSONType, default=list)
    # Forms edited in the studio for this version, by key, over the files in forms/. Plain JSON,
    # not JSONB: a form's fields are shown in the order they are written.
    forms: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(80))


class Service(Base):
    """A catalog entry; the services that run as diagrams name their key here."""

    __tablename__ = "services"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_prefix: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(160), default="")
    category: Mapped[str] = mapped_column(String(60), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    owner_agency: Mapped[str] = mapped_column(ForeignKey("agencies.code"))
    application_form: Mapped[str] = mapped_column(String(60))
    statutory_days: Mapped[int] = mapped_column(Integer, default=7)
    online: Mapped[bool] = mapped_column(Boolean, default=True)
    open_to_staff: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")  # staff may apply too
    search_fields: Mapped[dict] = mapped_column(JSONType, default=dict)
    # 管考: the owner agency re-checks the catalog text every ``review_interval_days``.
    review_interval_days: Mapped[int] = mapped_column(Integer, default=180, server_default="180")
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CaseSequence(Base):
    __tablename__ = "case_sequences"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_owner_status", "owner_agency", "status"),
        Index("ix_cases_applicant", "applicant_id"),
        Index("ix_cases_next_timer", "next_timer_at"),
        Index("ix_cases_status_opened", "status", "opened_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    service_key: Mapped[str] = mapped_column(ForeignKey("services.key"))
    definition_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"))
    applicant_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    owner_agency: Mapped[str] = mapped_column(ForeignKey("agencies.code"))
    channel: Mapped[str] = mapped_column(String(12), default="online")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, closed, cancelled
    stage: Mapped[str] = mapped_column(String(120), default="")
    outcome: Mapped[str | None] = mapped_column(String(20))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    related_case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"))
    fields: Mapped[dict] = mapped_column(JSONType, default=dict)
    provenance: Mapped[dict] = mapped_column(JSONType, default=dict)
    state: Mapped[dict] = mapped_column(JSON, deferred=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    definition: Mapped[Definition] = relationship()
    service: Mapped[Service] = relationship(lazy="joined")
    applicant: Mapped[User] = relationship(foreign_keys=[applicant_id])
    agent: Mapped[User | None] = relationship(foreign_keys=[agent_id])


class CaseTally(Base):
    """Finished cases counted by agency, service, Taipei opening day and outcome.

    Written in the transaction that closes a case, once for each agency the
    case involved (its owner and every agency that had a task on it), so an
    agency's compliance report sums a few thousand rows instead of scanning its
    cases. ``owner`` marks the owner's row: the city's figures sum only those,
    so a case counts once.
    """

    __tablename__ = "case_tallies"

    agency_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    service_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    opened_on: Mapped[date] = mapped_column(Date, primary_key=True)
    outcome: Mapped[str] = mapped_column(String(8), primary_key=True)  # on_time, late
    owner: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    channel: Mapped[str] = mapped_column(String(12), primary_key=True)
    hours: Mapped[int] = mapped_column(Integer, primary_key=True)  # see engine.tallies
    n: Mapped[int] = mapped_column(Integer, default=0)
    fields: Mapped[int] = mapped_column(Integer, default=0)            # over the n cases' provenance
    automatic_fields: Mapped[int] = mapped_column(Integer, default=0)  # of them, from identity or MyData


class TaskTally(Base):
    """Completed staff tasks with a deadline, by agency, service, stage, Taipei creation day and outcome."""

    __tablename__ = "task_tallies"

    agency_code: Mapped[str] = mapped_column(String(40), primary_key=True)  # '' for none
    service_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    stage: Mapped[str] = mapped_column(String(120), primary_key=True)
    created_on: Mapped[date] = mapped_column(Date, primary_key=True)
    outcome: Mapped[str] = mapped_column(String(8), primary_key=True)
    hours: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class HumanTask(Base):
    """A user task that is or was ready, with who may and who does work it."""

    __tablename__ = "human_tasks"
    __table_args__ = (
        Index("ix_human_tasks_inbox", "status", "role", "agency_code"),
        Index("ix_human_tasks_assignee", "assignee_id", "status"),
        Index("ix_human_tasks_case", "case_id"),
        Index("ix_human_tasks_due", "status", "due_at"),
        Index("ix_human_tasks_remind", "status", "remind_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow task id
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    spec_name: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(120))
    lane: Mapped[str | None] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(40))
    agency_code: Mapped[str | None] = mapped_column(String(40))
    form_key: Mapped[str | None] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(12), default="open")  # open, completed, cancelled
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    completed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[dict | None] = mapped_column(JSONType)
    context: Mapped[dict] = mapped_column(JSONType, default=dict)
    # When the holder (or group) was reminded of the coming deadline, and the supervisors told it passed.
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(lazy="joined")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")


class Document(Base):
    """A file that belongs to a draft or a case (attachments, issued permits)."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True)
    draft_id: Mapped[str | None] = mapped_column(String(32), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Draft(Base):
    """An application being written; it becomes a case when submitted."""

    __tablename__ = "drafts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    service_key: Mapped[str] = mapped_column(ForeignKey("services.key"))
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    related_case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"))
    principal_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    sources: Mapped[dict] = mapped_column(JSONType, default=dict)
    prefilled: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Permit(Base):
    """An issued permit, readable by the public verification page."""

    __tablename__ = "permits"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), unique=True)
    verify_token: Mapped[str] = mapped_column(String(43), unique=True)
    holder_name: Mapped[str] = mapped_column(String(120))
    holder_id: Mapped[str] = mapped_column(String(20))
    vehicles: Mapped[list] = mapped_column(JSONType)
    route_segments: Mapped[list] = mapped_column(JSONType)
    time_windows: Mapped[list] = mapped_column(JSONType)
    conditions: Mapped[list] = mapped_column(JSONType)
    valid_from: Mapped[str] = mapped_column(String(10))
    valid_to: Mapped[str] = mapped_column(String(10))
    issuing_agency: Mapped[str] = mapped_column(String(120))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    renewal_of: Mapped[str | None] = mapped_column(String(32))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


FAILED_SIGN_IN = text("action = 'auth.sign_in' AND result = 'failed'")


class AuditEvent(Base):
    """Append-only, hash-chained record of every command, sign-in and sensitive view."""

    __tablename__ = "audit_events"
    __table_args__ = (  # what engine.throttle reads; no other append adds to them
        Index("ix_audit_events_failed_sign_in_ip", "ip", "at",
              sqlite_where=FAILED_SIGN_IN, postgresql_where=FAILED_SIGN_IN),
        Index("ix_audit_events_failed_sign_in_actor", "actor_id", "at",
              sqlite_where=FAILED_SIGN_IN, postgresql_where=FAILED_SIGN_IN),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[str | None] = mapped_column(String(32))
    on_behalf_of: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[str | None] = mapped_column(String(32), index=True)
    ip: Mapped[str | None] = mapped_column(String(45))
    purpose: Mapped[str | None] = mapped_column(String(80))
    result: Mapped[str] = mapped_column(String(20), default="ok")
    detail: Mapped[dict] = mapped_column(JSONType, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class RequestHit(Base):
    """One request counted against a rate limit, kept for the limit's window (see ``engine.throttle``)."""

    __tablename__ = "request_hits"
    __table_args__ = (Index("ix_request_hits_subject", "scope", "subject", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    actor_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    command: Mapped[str] = mapped_column(String(40))
    response: Mapped[dict] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(Base):
    """Work for outside systems (mail first), written in the case transaction, performed by a worker.

    A worker leases due messages (``sending`` until ``locked_until``), so two
    workers never send the same message at once and a worker that dies only
    delays it; ``attempts`` drives the back-off and, when exhausted, an incident.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "run_after"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Incident(Base):
    """Something that failed for good and needs a person: shown to admins and on the case."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_open", "resolved_at", "opened_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str | None] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(20))          # "outbox", …
    ref: Mapped[str] = mapped_column(String(40))             # the failed item's id
    title: Mapped[str] = mapped_column(String(200))
    error: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))


class MyDataTransaction(Base):
    """One MyData transfer (tx_id), kept as the transmission record the law asks for.

    The national ID is never stored here: it travels once, encrypted, in the
    redirect. The raw package lives in ``mydata_packages`` only until extraction.
    """

    __tablename__ = "mydata_transactions"
    __table_args__ = (Index("ix_mydata_tx_due", "status", "next_attempt_at"),)

    tx_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10), default="online")  # online, counter
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    subject_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    service_key: Mapped[str] = mapped_column(String(40))
    draft_id: Mapped[str | None] = mapped_column(String(32))
    case_id: Mapped[str | None] = mapped_column(String(32))
    resources: Mapped[list] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="redirected")
    return_code: Mapped[int | None] = mapped_column(Integer)
    permission_ticket: Mapped[str | None] = mapped_column(String(64), unique=True)
    secret_key: Mapped[str | None] = mapped_column(String(200))
    barcode: Mapped[str | None] = mapped_column(String(16))
    otp: Mapped[str | None] = mapped_column(String(8))
    unable_to_deliver: Mapped[list] = mapped_column(JSONType, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    package_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MyDataPackage(Base):
    """The raw package, written durably before extraction and deleted right after."""

    __tablename__ = "mydata_packages"

    tx_id: Mapped[str] = mapped_column(ForeignKey("mydata_transactions.tx_id"), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MyDataRecord(Base):
    """One dataset of one transfer: where it came from, whether it verified, its fields."""

    __tablename__ = "mydata_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tx_id: Mapped[str] = mapped_column(ForeignKey("mydata_transactions.tx_id"), index=True)
    resource_id: Mapped[str] = mapped_column(String(20))
    resource_name: Mapped[str] = mapped_column(String(60))
    provider: Mapped[str] = mapped_column(String(120), default="")
    code: Mapped[int] = mapped_column(Integer)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    problems: Mapped[list] = mapped_column(JSONType, default=list)
    fields: Mapped[dict] = mapped_column(JSONType, default=dict)
    document_ids: Mapped[list] = mapped_column(JSONType, default=list)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgentAuthorization(Base):
    """A citizen's authorisation for someone to apply in their name (代辦).

    The agent is named by national ID and birth date; only a keyed hash of the
    two is kept, compared when the agent accepts with the serial.
    """

    __tablename__ = "agent_authorizations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    serial: Mapped[str] = mapped_column(String(12), unique=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    agent_key: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    services: Mapped[list] = mapped_column(JSONType)
    valid_until: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending, accepted, revoked
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    principal: Mapped[User] = relationship(foreign_keys=[principal_id], lazy="joined")
    agent: Mapped[User | None] = relationship(foreign_keys=[agent_id], lazy="joined")


class Notification(Base):
    """An in-app notice for a member (e-mail delivery arrives with the outbox work)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AssessmentSlot(Base):
    """A time an assessor can visit a home; a case holds at most one, and a slot at most one case.

    Booking is a guarded update (``case_id IS NULL``), so two families reaching
    for the same slot cannot both get it; the unique index on ``case_id`` keeps
    one case from holding two.
    """

    __tablename__ = "assessment_slots"
    __table_args__ = (
        UniqueConstraint("assessor_id", "starts_at"),
        Index("ix_assessment_slots_open", "agency_code", "starts_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"))
    assessor_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    districts: Mapped[list] = mapped_column(JSONType, default=list)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), unique=True)
    booked_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    assessor: Mapped[User] = relationship(foreign_keys=[assessor_id])


class ScheduledRun(Base):
    """When a scheduled job last ran for one key (e.g. the weekly digest for one supervisor)."""

    __tablename__ = "scheduled_runs"

    job: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Rating(Base):
    """The applicant's satisfaction with a closed case: one per case, 1 to 5, with an optional comment."""

    __tablename__ = "ratings"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Opinion(Base):
    """A citizen's opinion (意見反映) on a case, registered with 1999 as a petition (陳情案件).

    Written at once and kept whatever 1999 does; the outbox registers it, and
    the 1999 status and the agency's reply are copied back as they change.
    """

    __tablename__ = "opinions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    category: Mapped[str] = mapped_column(String(20))
    agency_code: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued, open, in_progress, closed
    request_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    expected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PetitionLink(Base):
    """A member's verified link to their 1999 account; the token reads that member's 1999 cases."""

    __tablename__ = "petition_links"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(40))
    token: Mapped[str] = mapped_column(String(200))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Subscription(Base):
    """A member's choice for one notice topic on one channel; absent means the topic's default."""

    __tablename__ = "subscriptions"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(80), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)   # in_app, email
    active: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReferralRoute(Base):
    """Which agency handles each care-referral category (綜合式主動關懷及轉介); admins edit it."""

    __tablename__ = "referral_routes"

    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))


class DefinitionDraft(Base):
    """An analyst's unpublished edit of a service's diagram and forms.

    ``revision`` guards concurrent saves; ``problems`` is the check report of the
    last save. A draft is published by someone other than its author.
    """

    __tablename__ = "definition_drafts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    service_key: Mapped[str] = mapped_column(ForeignKey("services.key"), index=True)
    base_definition_id: Mapped[int | None] = mapped_column(ForeignKey("definitions.id"))
    bpmn_xml: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    forms: Mapped[dict] = mapped_column(JSON, default=dict)  # JSON keeps the fields' order; JSONB would not
    problems: Mapped[list] = mapped_column(JSONType, default=list)
    source: Mapped[str] = mapped_column(String(12), default="studio")
    import_report: Mapped[list] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(12), default="editing")
    revision: Mapped[int] = mapped_column(Integer, default=0)  # the diagram and the status
    forms_revision: Mapped[int] = mapped_column(Integer, default=0)
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    editors: Mapped[list] = mapped_column(JSONType, default=list)  # everyone who saved it: none may approve it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str] = mapped_column(Text, default="")
    definition_id: Mapped[int | None] = mapped_column(ForeignKey("definitions.id"))

    author: Mapped[User] = relationship(foreign_keys=[author_id])
    service: Mapped[Service] = relationship()
