"""Mail through the outbox to a real SMTP server on loopback: delivery, outage, incident, retry."""
from __future__ import annotations

import io
import socket
from datetime import datetime, timedelta
from email import message_from_bytes, policy

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from engine import outbox
from engine.calendar import TAIPEI
from engine.db import reading, transaction, utcnow
from engine.models import Incident, OutboxMessage
from handlers import digest
from handlers.mail import SmtpSettings
from tests.conftest import make_app
from webapp import services

from .flow import submit_application, text_of, work
from .test_long_term_care import apply, book, booking_task


class Inbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content,
                                                policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port, controller
    controller.stop()


@pytest.fixture
def mail_app(database_url, tmp_path, smtp):
    _inbox, port, _controller = smtp
    app = make_app(database_url, tmp_path, {"SMTP": SmtpSettings(host="127.0.0.1", port=port, timeout=3)})
    yield app
    with app.app_context():
        services.get().db.dispose()


def deliver(app, clock=utcnow) -> int:
    with app.app_context():
        svc = services.get()
        return outbox.process_due(svc.sessions, svc.senders, clock=clock)


def login(app, username):
    from tests.conftest import Client

    return Client(app.test_client()).login(username)


def test_a_case_notice_is_mailed_once_in_the_members_language(mail_app, smtp):
    inbox, _port, _controller = smtp
    lin = login(mail_app, "lin")
    _case_id, number = apply(lin)
    work(login(mail_app, "ltc.clerk"), number, decision="follow")
    task_id, slots = booking_task(lin)
    book(lin, task_id, slots[0])
    assert inbox.messages == []  # nothing leaves before a worker runs
    assert deliver(mail_app) == 1
    assert deliver(mail_app) == 0  # and nothing twice
    (mail,) = inbox.messages
    assert mail["To"] == "lin@example.tw" and number in mail["Subject"]
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "林美麗 您好" in body and "已預約到府評估" in body and f"/my/cases/" in body

    lin.get("/lang/en")  # the member switches to English; later mail follows
    _other, second = apply(lin)
    work(login(mail_app, "ltc.clerk"), second, decision="override", override_reason="測試")
    # overridden to ineligible, the case closes: the notice and the survey go out in English
    assert deliver(mail_app) == 2
    notice, survey = sorted(inbox.messages[-2:], key=lambda m: "how did we do" in m["Subject"])
    assert notice["Subject"] == f"[Tainan One-Stop Services] Case {second}"
    assert "Dear 林美麗" in notice.get_body(preferencelist=("plain",)).get_content()
    assert survey["Subject"] == f"[Tainan One-Stop Services] Case {second}: how did we do?"
    assert "#rating" in survey.get_body(preferencelist=("plain",)).get_content()


def test_an_outage_is_retried_then_opens_an_incident_and_a_retry_delivers_once(database_url, tmp_path):
    from aiosmtpd.controller import Controller

    port = free_port()  # nothing listens here yet: the mail server is down
    app = make_app(database_url, tmp_path, {"SMTP": SmtpSettings(host="127.0.0.1", port=port, timeout=2)})
    with app.app_context(), transaction(services.get().sessions) as s:
        outbox.enqueue(s, "email", {"to": "lin@example.tw", "subject": "測試通知", "body": "內容"})
    now = utcnow()
    policy = outbox.RetryPolicy()
    for attempt in range(1, policy.max_attempts + 1):
        assert deliver(app, clock=lambda: now) == 0
        with app.app_context(), reading(services.get().sessions) as s:
            message = s.scalar(select(OutboxMessage))
            assert message.attempts == attempt and "ConnectionRefusedError" in message.last_error
        if attempt < policy.max_attempts:
            assert message.status == "pending"
            assert message.run_after - now == policy.delay(attempt)  # 30 s, 1 min, 2 min, …
            deliver(app, clock=lambda: now)  # not due yet: no attempt is spent
            with app.app_context(), reading(services.get().sessions) as s:
                assert s.scalar(select(OutboxMessage.attempts)) == attempt
            now = message.run_after
    assert message.status == "failed"

    admin = login(app, "admin")
    page = admin.get("/admin/incidents")
    assert "測試通知" in text_of(page) and "ConnectionRefusedError" in text_of(page)
    assert login(app, "tb.clerk").get("/admin/incidents").status_code == 403
    with app.app_context(), reading(services.get().sessions) as s:
        incident = s.scalar(select(Incident))

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()  # the mail server is back
    try:
        assert admin.post(f"/admin/incidents/{incident.id}/retry").status_code == 302
        assert deliver(app) == 1 and deliver(app) == 0
        assert len(inbox.messages) == 1 and inbox.messages[0]["Subject"] == "測試通知"
        assert "目前沒有未處理的異常" in text_of(admin.get("/admin/incidents"))
    finally:
        controller.stop()
        with app.app_context():
            services.get().db.dispose()


def test_a_worker_that_dies_mid_send_only_delays_the_message(mail_app, smtp):
    inbox, _port, _controller = smtp
    with mail_app.app_context(), transaction(services.get().sessions) as s:
        outbox.enqueue(s, "email", {"to": "lin@example.tw", "subject": "租約", "body": "x"})
    with mail_app.app_context():
        leased = outbox.lease_due(services.get().sessions, utcnow(), outbox.RetryPolicy())
    assert len(leased) == 1  # …and this worker dies here
    assert deliver(mail_app) == 0  # leased: nobody else sends it meanwhile
    later = utcnow() + outbox.RetryPolicy().lease + timedelta(seconds=1)
    assert deliver(mail_app, clock=lambda: later) == 1
    assert len(inbox.messages) == 1


def test_the_development_mailbox_shows_what_would_have_been_mailed(sqlite_url, tmp_path):
    from webapp import devmail

    box = tmp_path / "dev-mailbox.mbox"
    host, port = devmail.start(box)
    app = make_app(sqlite_url, tmp_path, {"SMTP": SmtpSettings(host=host, port=port, timeout=3),
                                          "DEV_MAILBOX_PATH": str(box)})
    with app.app_context(), transaction(services.get().sessions) as s:
        outbox.enqueue(s, "email", {"to": "lin@example.tw", "subject": "評估提醒", "body": "明天上午九點到府評估"})
    assert deliver(app) == 1
    page = app.test_client().get("/dev/mailbox")
    assert page.status_code == 200
    assert "評估提醒" in text_of(page) and "明天上午九點到府評估" in text_of(page)
    plain = make_app(sqlite_url, tmp_path / "other")
    assert plain.test_client().get("/dev/mailbox").status_code == 404


def test_each_supervisor_gets_one_weekly_digest_pdf(mail_app, smtp):
    inbox, _port, _controller = smtp
    company = login(mail_app, "company")
    _case_id, number = submit_application(company)
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=TAIPEI)
    with mail_app.app_context():
        svc = services.get()
        sent = digest.send_weekly_digests(svc.sessions, monday, svc.engine.settings)
        again = digest.send_weekly_digests(svc.sessions, monday + timedelta(days=2), svc.engine.settings)
        next_week = digest.send_weekly_digests(svc.sessions, monday + timedelta(days=7), svc.engine.settings)
    from webapp.seed import DEMO_USERS

    supervisors = [row[0] for row in DEMO_USERS if row[2] == "staff" and "supervisor" in row[3]]
    assert (sent, again, next_week) == (len(supervisors), 0, len(supervisors))
    deliver(mail_app)
    mine = [m for m in inbox.messages if m["To"] == "tb-supervisor@example.tw"]
    assert len(mine) == 2 and "臺南市政府交通局 每週案件管考摘要" in mine[0]["Subject"]
    (attachment,) = list(mine[0].iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(attachment.get_content())).pages)
    for heading in ("每週案件管考摘要", "處理期限達成率", "稽催報表", "人員工作量", "臺南市政府交通局", "大型車輛行駛管制道路通行證"):
        assert heading in text, heading
