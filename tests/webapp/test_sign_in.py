"""Sign-in is throttled after repeated failures, per name and address, per address and per account."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.db import reading, utcnow
from engine.models import AuditEvent
from engine.throttle import SignInLimits
from tests.conftest import CSRF_RE, make_app
from webapp import services

PASSWORD = "onestop-demo"
HOME = "198.51.100.1"


def attempt(http, username: str, password: str, address: str = HOME, headers: dict | None = None):
    token = CSRF_RE.search(http.get("/login").get_data(as_text=True)).group(1)
    return http.post("/login", data={"username": username, "password": password, "csrf_token": token},
                     environ_base={"REMOTE_ADDR": address}, headers=headers or {})


def fail(http, username: str, times: int, address: str = HOME, headers: dict | None = None) -> None:
    for _ in range(times):
        assert attempt(http, username, "wrong", address, headers).status_code == 401


def sign_in_events(app) -> list[AuditEvent]:
    with app.app_context(), reading(services.get().sessions) as s:
        return s.scalars(select(AuditEvent).where(AuditEvent.action == "auth.sign_in")
                         .order_by(AuditEvent.id)).all()


@pytest.fixture
def clock(app):
    """The engine's clock, which the test moves on."""
    now = [utcnow()]
    with app.app_context():
        services.get().engine.clock = lambda: now[0]
    return now


def test_five_wrong_passwords_refuse_even_the_right_one_from_that_address(app, clock):
    http = app.test_client()
    fail(http, "company", 5)
    refused = attempt(http, "company", PASSWORD)
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "登入失敗次數過多，請於 15 分鐘後再試。" in page
    assert refused.headers["Retry-After"] == "900"
    assert http.get("/my/cases").status_code == 302  # not signed in

    assert attempt(app.test_client(), "company", PASSWORD, address="203.0.113.9").status_code == 302

    events = sign_in_events(app)
    assert [e.result for e in events] == ["failed"] * 5 + ["throttled", "ok"]
    assert all("company" not in str(e.detail) for e in events)  # the name typed is kept only as a keyed hash


def test_the_wait_ends_when_the_oldest_failures_leave_the_window(app, clock):
    http = app.test_client()
    fail(http, "company", 4)
    clock[0] += timedelta(minutes=10)
    fail(http, "company", 1)
    assert attempt(http, "company", PASSWORD).status_code == 429
    clock[0] += timedelta(minutes=4)
    refused = attempt(http, "company", PASSWORD)
    assert refused.status_code == 429 and "請於 1 分鐘後再試" in refused.get_data(as_text=True)
    assert refused.headers["Retry-After"] == "60"
    clock[0] += timedelta(minutes=1, seconds=1)
    assert attempt(http, "company", PASSWORD).status_code == 302


def test_a_name_without_an_account_is_refused_alike(app, clock):
    http = app.test_client()
    fail(http, "nobody-here", 5)
    assert attempt(http, "nobody-here", "wrong").status_code == 429
    assert attempt(http, "company", PASSWORD).status_code == 302  # another name from the same address


def test_one_address_trying_many_names_is_refused(seeded_database_url, tmp_path):
    app = make_app(seeded_database_url, tmp_path, {"SIGN_IN_LIMITS": SignInLimits(address=8)}, seeded=True)
    try:
        http = app.test_client()
        for n in range(8):
            fail(http, f"guess-{n}", 1)
        assert attempt(http, "company", PASSWORD).status_code == 429
        assert attempt(http, "company", PASSWORD, address="203.0.113.9").status_code == 302
    finally:
        with app.app_context():
            services.get().db.dispose()


def test_one_account_tried_from_many_addresses_is_refused(app, clock):
    http = app.test_client()
    for n in range(50):
        fail(http, "company", 1, address=f"10.0.{n // 250}.{n % 250 + 1}")
    assert attempt(http, "company", PASSWORD, address="203.0.113.9").status_code == 429
    assert attempt(http, "citizen", PASSWORD, address="203.0.113.9").status_code == 302


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(seeded_database_url, tmp_path):
    behind = make_app(seeded_database_url, tmp_path, {"TRUSTED_PROXIES": 1}, seeded=True)
    direct = make_app(seeded_database_url, tmp_path, seeded=True)
    try:
        http = behind.test_client()
        fail(http, "company", 5, address="10.0.0.2", headers={"X-Forwarded-For": "203.0.113.5"})
        assert attempt(http, "company", PASSWORD, "10.0.0.2", {"X-Forwarded-For": "203.0.113.5"}).status_code == 429
        assert attempt(http, "company", PASSWORD, "10.0.0.2", {"X-Forwarded-For": "203.0.113.6"}).status_code == 302
        assert sign_in_events(behind)[0].ip == "203.0.113.5"

        # Without a trusted proxy a client cannot escape the limit by naming another address.
        spoofer = direct.test_client()
        for n in range(5):
            fail(spoofer, "citizen", 1, address="10.0.0.3", headers={"X-Forwarded-For": f"192.0.2.{n + 1}"})
        assert attempt(spoofer, "citizen", PASSWORD, "10.0.0.3", {"X-Forwarded-For": "192.0.2.99"}).status_code \
            == 429
    finally:
        for app in (behind, direct):
            with app.app_context():
                services.get().db.dispose()
