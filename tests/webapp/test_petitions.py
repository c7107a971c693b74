"""Opinions on a case become 1999 petitions, over real HTTP to the 1999 sandbox on loopback."""
from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from engine.db import reading, utcnow
from engine.models import Notification, Opinion, OutboxMessage, User
from handlers.petitions import opinions
from handlers.petitions.client import Settings1999
from handlers.petitions.sandbox.app import Sandbox1999, create_sandbox_app
from tests.conftest import make_app
from webapp import services

from .flow import submit_application, text_of
from .test_notifications import deliver, free_port, login

API_KEY = "test-1999-key"


class Running1999:
    """The 1999 sandbox served on a fixed loopback port, which can be stopped and started again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sandbox = Sandbox1999({API_KEY})
        self.app = create_sandbox_app(self.sandbox, test_endpoints=True)
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Running1999":
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def reply(self, request_id: str, notes: str) -> None:
        response = requests.post(f"{self.url}/_test/requests/{request_id}", timeout=5,
                                 json={"status": "closed", "status_notes": notes})
        assert response.status_code == 200, response.text


@pytest.fixture
def hotline():
    running = Running1999(free_port())
    yield running
    running.stop()


@pytest.fixture
def petition_app(database_url, tmp_path, hotline):
    app = make_app(database_url, tmp_path, {"PETITION_1999": Settings1999(hotline.url, API_KEY, timeout=2)})
    yield app
    with app.app_context():
        services.get().db.dispose()


def _opinions(app, case_id):
    with app.app_context(), reading(services.get().sessions) as s:
        return list(s.scalars(select(Opinion).where(Opinion.case_id == case_id)))


def _poll(app, later=timedelta(0)):
    with app.app_context():
        svc = services.get()
        return opinions.poll(svc.sessions, svc.petitions, utcnow() + later, svc.engine.settings)


def test_an_opinion_kept_while_1999_is_down_is_registered_once_and_its_reply_comes_back(petition_app, hotline):
    company = login(petition_app, "company")
    case_id, number = submit_application(company)
    page = company.get(f"/my/cases/{case_id}")
    assert "意見反映" in text_of(page)

    empty = company.post(f"/my/cases/{case_id}/opinions", data={"text": "  "})
    assert empty.status_code == 422 and "請填寫意見內容。" in text_of(empty)
    assert _opinions(petition_app, case_id) == []

    # 1999 is down: the opinion is kept and shown as waiting, and the outbox will try again
    given = company.post(f"/my/cases/{case_id}/opinions",
                         data={"text": "審查進度很慢，想了解何時可以核發。", "confidential": "1"})
    assert given.status_code == 302
    assert deliver(petition_app) == 0
    (kept,) = _opinions(petition_app, case_id)
    assert kept.status == "queued" and kept.request_id is None
    assert "待送出至 1999" in text_of(company.get(f"/my/cases/{case_id}"))

    hotline.start()
    later = lambda: utcnow() + timedelta(minutes=5)  # noqa: E731 - past the back-off
    assert deliver(petition_app, clock=later) == 1
    assert deliver(petition_app, clock=later) == 0
    (sent,) = _opinions(petition_app, case_id)
    assert sent.status == "open" and sent.request_id
    (petition,) = hotline.sandbox.petitions.values()  # registered once
    assert petition.external_id == number and petition.agency_responsible == "TB"
    assert petition.channel == "onestop" and petition.petitioner.confidential is True
    assert sent.request_id in text_of(company.get(f"/my/cases/{case_id}"))

    hotline.reply(sent.request_id, "本局已於今日完成審查，將於三日內核發。")
    assert _poll(petition_app) == 1
    assert _poll(petition_app, later=timedelta(minutes=1, seconds=30)) == 0  # read again, not noticed twice
    page = text_of(company.get(f"/my/cases/{case_id}"))
    assert "本局已於今日完成審查，將於三日內核發。" in page and "已回覆結案" in page
    with petition_app.app_context(), reading(services.get().sessions) as s:
        told = s.scalars(select(Notification.text).join(User, User.id == Notification.user_id)
                         .where(User.username == "company", Notification.text.contains("意見已有回覆"))).all()
    assert told == [f"{number}：您反映的意見已有回覆。"]


def test_only_the_applicant_gives_an_opinion(petition_app):
    company = login(petition_app, "company")
    case_id, _number = submit_application(company)
    assert login(petition_app, "tb.clerk").post(f"/my/cases/{case_id}/opinions",
                                                data={"text": "x"}).status_code == 403
    assert login(petition_app, "citizen").post(f"/my/cases/{case_id}/opinions",
                                               data={"text": "x"}).status_code == 404
    assert _opinions(petition_app, case_id) == []
    with petition_app.app_context(), reading(services.get().sessions) as s:
        assert s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "petition")).all() == []


def test_a_member_links_their_1999_account_with_a_code_and_sees_their_cases(petition_app, hotline):
    hotline.start()
    hotline.sandbox.add_member({"member_id": "M-42", "name": "王小明", "email": "citizen@example.tw",
                                "phone": "0912345678",
                                "requests": [{"description": "中華路路燈不亮", "status": "closed",
                                              "status_notes": "已修復"}]})
    citizen = login(petition_app, "citizen")
    unknown = citizen.post("/my/1999", data={"step": "start", "member_id": "M-404", "channel": "email"})
    assert unknown.status_code == 422 and "查無此 1999 會員編號" in text_of(unknown)

    started = citizen.post("/my/1999", data={"step": "start", "member_id": "M-42", "channel": "email"})
    assert started.status_code == 200 and "c***@example.tw" in text_of(started)
    (_member, _channel, _to, code) = hotline.sandbox.outbox[-1]
    wrong = "000000" if code != "000000" else "111111"
    assert "驗證碼不正確" in text_of(citizen.post("/my/1999", data={"step": "confirm", "code": wrong}))
    linked = citizen.post("/my/1999", data={"step": "confirm", "code": code}, follow_redirects=True)
    page = text_of(linked)
    assert "已連結 1999 會員編號 M-42" in page and "中華路路燈不亮" in page and "已修復" in page
    assert re.search(r"1999-\d{4}-\d+", page)

    # another member sees nothing of it
    assert "中華路路燈不亮" not in text_of(login(petition_app, "company").get("/my/1999"))
