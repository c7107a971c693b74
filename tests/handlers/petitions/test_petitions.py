"""The 1999 adapter against the 1999 sandbox, over real HTTP on loopback."""
from __future__ import annotations

import logging
import re
import socket
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from handlers.petitions.client import (
    Attachment,
    Client1999,
    LinkFailed,
    Petition,
    PetitionAuthError,
    Petitioner,
    PetitionProtocolError,
    PetitionRejected,
    PetitionUnavailable,
    Settings1999,
)
from handlers.petitions.sandbox.app import Sandbox1999, create_sandbox_app

API_KEY = "onestop-test-key"
TAIPEI = timezone(timedelta(hours=8))
START = datetime(2026, 5, 4, 9, 0, tzinfo=TAIPEI).astimezone(timezone.utc)
NAME, EMAIL, PHONE, NATIONAL_ID = "陳美玲", "chen.meiling@example.tw", "0912345678", "A123456789"


class Clock:
    """A clock the tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _serve(app: Flask):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def sandbox(clock) -> Sandbox1999:
    return Sandbox1999({API_KEY}, clock=clock)


@pytest.fixture
def base_url(sandbox):
    server, thread = _serve(create_sandbox_app(sandbox, test_endpoints=True))
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=2)


@pytest.fixture
def client(base_url):
    with Client1999(Settings1999(base_url, API_KEY, timeout=2)) as c:
        yield c


def petition(**changes) -> Petition:
    who = changes.pop("petitioner", Petitioner(NAME, email=EMAIL, phone=PHONE, national_id=NATIONAL_ID))
    values = dict(service_code="traffic", agency_responsible="TB", external_id="TN-2026-000042",
                  description="中華東路三段路口號誌秒數太短，行人來不及通過。", address_string="台南市東區中華東路三段",
                  lat=22.9853, long=120.2261, petitioner=who)
    return Petition(**{**values, **changes})


def agency_reply(base_url: str, request_id: str, **body) -> None:
    requests.post(f"{base_url}/_test/requests/{request_id}", json=body, timeout=2).raise_for_status()


def add_member(base_url: str, **member) -> dict:
    body = {"member_id": "M0001", "name": NAME, "email": "chen@example.tw", "phone": "0912-345-678", **member}
    response = requests.post(f"{base_url}/_test/members", json=body, timeout=2)
    response.raise_for_status()
    return response.json()


def test_submit_registers_and_status_reads_it_back(client, clock):
    photo = Attachment("crossing.jpg", "image/jpeg", b"\xff\xd8\xff" + b"0" * 1000)
    receipt = client.submit(petition(attachments=(photo,)), idempotency_key="opinion-1")
    assert re.fullmatch(r"1999-2026-\d{6}", receipt.service_request_id)
    assert receipt.status == "open" and receipt.agency_responsible == "TB"
    assert receipt.external_id == "TN-2026-000042"
    assert receipt.expected_datetime == clock.now + timedelta(days=7)
    assert receipt.expected_datetime.utcoffset() == timedelta(hours=8)

    read = client.status(receipt.service_request_id)
    assert read.service_request_id == receipt.service_request_id
    assert (read.status, read.status_notes, read.service_code, read.channel) == ("open", None, "traffic", "onestop")
    assert read.updated_datetime == clock.now and read.external_id == "TN-2026-000042"


def test_same_idempotency_key_registers_one_petition(client, sandbox, base_url):
    first = client.submit(petition(), idempotency_key="opinion-7")
    again = client.submit(petition(), idempotency_key="opinion-7")
    assert again.service_request_id == first.service_request_id
    assert len(sandbox.petitions) == 1

    body = {**petition().to_json(), "idempotency_key": "opinion-8"}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    codes = [requests.post(f"{base_url}/api/v2/requests.json", json=body, headers=headers, timeout=2).status_code
             for _ in range(2)]
    assert codes == [201, 200]
    assert len(sandbox.petitions) == 2


def test_invalid_petition_is_rejected_with_field_names_and_no_personal_data(client, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PetitionRejected) as caught:
        client.submit(petition(description="", lat=123.0), idempotency_key="opinion-2")
    fields = {e["field"] for e in caught.value.errors}
    assert {"description", "lat"} <= fields
    assert "description" in str(caught.value)
    for secret in (NAME, EMAIL, PHONE, NATIONAL_ID):
        assert secret not in str(caught.value) and secret not in caplog.text
    assert sandbox.petitions == {}


def test_too_many_attachments_and_unknown_category_are_rejected(client):
    files = tuple(Attachment(f"p{i}.png", "image/png", b"x") for i in range(6))
    with pytest.raises(PetitionRejected) as caught:
        client.submit(petition(attachments=files, service_code="ufo"), idempotency_key="opinion-3")
    assert {"attachments", "service_code"} <= {e["field"] for e in caught.value.errors}


def test_confidential_petitioner_is_not_echoed(client, base_url):
    hidden = client.submit(petition(petitioner=Petitioner(NAME, email=EMAIL, phone=PHONE, national_id=NATIONAL_ID,
                                                          confidential=True)), idempotency_key="opinion-4")
    shown = client.submit(petition(petitioner=Petitioner(NAME, email=EMAIL)), idempotency_key="opinion-5")
    headers = {"Authorization": f"Bearer {API_KEY}"}

    raw = requests.get(f"{base_url}/api/v2/requests/{hidden.service_request_id}.json", headers=headers, timeout=2)
    assert raw.json()[0]["petitioner"]["name"] == "（保密）"
    for secret in (NAME, EMAIL, PHONE, NATIONAL_ID):
        assert secret not in raw.text

    raw = requests.get(f"{base_url}/api/v2/requests/{shown.service_request_id}.json", headers=headers, timeout=2)
    assert raw.json()[0]["petitioner"]["name"] == NAME
    assert NATIONAL_ID not in raw.text
    assert NAME not in repr(petition()) and EMAIL not in repr(petition())


def test_agency_reply_is_seen_by_status_and_polling(client, base_url, clock):
    answered = client.submit(petition(), idempotency_key="opinion-a")
    quiet = client.submit(petition(external_id="TN-2026-000043"), idempotency_key="opinion-b")
    clock.advance(hours=1)
    poll_from = clock.now
    clock.advance(minutes=30)
    agency_reply(base_url, answered.service_request_id, status="closed",
                 status_notes="已於5月5日調整號誌秒數為40秒。")

    read = client.status(answered.service_request_id)
    assert (read.status, read.status_notes) == ("closed", "已於5月5日調整號誌秒數為40秒。")
    assert read.updated_datetime == clock.now

    changed = client.updated_since(poll_from)
    assert [s.service_request_id for s in changed] == [answered.service_request_id]
    assert changed[0].status_notes.startswith("已於")
    assert quiet.service_request_id in {s.service_request_id for s in client.updated_since(START - timedelta(1))}
    assert client.updated_since(clock.now) == []


def test_unknown_request_and_wrong_api_key(client, base_url):
    with pytest.raises(PetitionProtocolError):
        client.status("1999-2026-999999")
    with Client1999(Settings1999(base_url, "not-the-key", timeout=2)) as intruder:
        with pytest.raises(PetitionAuthError):
            intruder.submit(petition(), idempotency_key="opinion-x")
        with pytest.raises(PetitionAuthError):
            intruder.status("1999-2026-000001")


def test_unreachable_server_is_unavailable_quickly():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with Client1999(Settings1999(f"http://127.0.0.1:{port}", API_KEY, timeout=2)) as c:
        with pytest.raises(PetitionUnavailable):
            c.submit(petition(), idempotency_key="opinion-down")
    assert time.monotonic() - started < 2.5


def test_server_errors_are_unavailable_and_garbage_is_a_protocol_error():
    broken = Flask(__name__)

    @broken.get("/api/v2/requests/<request_id>.json")
    def failing(request_id):
        return ("upstream busy", 503) if request_id.endswith("1") else ("<html>maintenance</html>", 200)

    server, thread = _serve(broken)
    try:
        with Client1999(Settings1999(f"http://127.0.0.1:{server.server_port}", API_KEY, timeout=2)) as c:
            with pytest.raises(PetitionUnavailable):
                c.status("1999-2026-000001")
            with pytest.raises(PetitionProtocolError):
                c.status("1999-2026-000002")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)


def test_member_link_by_email_then_listing_cases(client, sandbox, base_url):
    earlier = add_member(base_url, requests=[{"service_code": "roads", "agency_responsible": "PWB",
                                              "description": "路面坑洞", "status": "closed",
                                              "status_notes": "已修補"}])["requests"]
    filed = client.submit(petition(petitioner=Petitioner(NAME, email="Chen@example.tw")), idempotency_key="m-1")
    client.submit(petition(petitioner=Petitioner("林先生", email="lin@example.tw")), idempotency_key="m-2")

    verification_id, destination = client.start_member_link("M0001", "email")
    assert destination == "c***@example.tw"
    member_id, channel, sent_to, code = sandbox.outbox[-1]
    assert (member_id, channel, sent_to) == ("M0001", "email", "chen@example.tw")
    assert re.fullmatch(r"\d{6}", code)

    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(LinkFailed) as caught:
        client.confirm_member_link(verification_id, wrong)
    assert caught.value.reason == "wrong_code" and caught.value.remaining == 4

    token = client.confirm_member_link(verification_id, code)
    cases = client.member_requests("M0001", token)
    assert [c.service_request_id for c in cases] == earlier + [filed.service_request_id]
    assert (cases[0].status, cases[0].status_notes, cases[0].channel) == ("closed", "已修補", "phone")

    with pytest.raises(LinkFailed) as caught:
        client.member_requests("M0001", token + "x")
    assert caught.value.reason == "bad_token"
    with pytest.raises(LinkFailed) as caught:
        client.confirm_member_link(verification_id, code)  # a code works once
    assert caught.value.reason == "expired"


def test_member_link_by_sms_masks_the_phone_and_unknown_member_fails(client, sandbox, base_url):
    add_member(base_url)
    _, destination = client.start_member_link("M0001", "sms")
    assert destination == "0912***678"
    assert sandbox.outbox[-1][:3] == ("M0001", "sms", "0912-345-678")
    with pytest.raises(LinkFailed) as caught:
        client.start_member_link("M9999", "email")
    assert caught.value.reason == "unknown_member"


def test_code_expires_after_ten_minutes(client, sandbox, base_url, clock):
    add_member(base_url)
    verification_id, _ = client.start_member_link("M0001", "email")
    code = sandbox.outbox[-1][3]
    clock.advance(minutes=10, seconds=1)
    with pytest.raises(LinkFailed) as caught:
        client.confirm_member_link(verification_id, code)
    assert caught.value.reason == "expired"


def test_five_wrong_codes_kill_the_verification(client, sandbox, base_url):
    add_member(base_url)
    verification_id, _ = client.start_member_link("M0001", "email")
    code = sandbox.outbox[-1][3]
    wrong = "000000" if code != "000000" else "111111"
    for remaining in (4, 3, 2, 1, 0):
        with pytest.raises(LinkFailed) as caught:
            client.confirm_member_link(verification_id, wrong)
        assert (caught.value.reason, caught.value.remaining) == ("wrong_code", remaining)
    with pytest.raises(LinkFailed) as caught:
        client.confirm_member_link(verification_id, code)
    assert caught.value.reason == "expired"


def test_settings_from_env(monkeypatch):
    monkeypatch.delenv("PETITION_1999_URL", raising=False)
    assert Settings1999.from_env() is None
    monkeypatch.setenv("PETITION_1999_URL", "https://1999.example.tw/")
    monkeypatch.setenv("PETITION_1999_API_KEY", "secret-key")
    settings = Settings1999.from_env()
    assert settings == Settings1999("https://1999.example.tw/", "secret-key")
    assert settings.url("/api/v2/requests.json") == "https://1999.example.tw/api/v2/requests.json"
    assert "secret-key" not in repr(settings)
