"""Fixtures for the web suites: live servers, the MyData sandbox, a headless browser."""
from __future__ import annotations

import re
import socket
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from engine.db import reading, utcnow
from engine.models import MyDataTransaction
from handlers.mydata import jobs
from handlers.mydata.config import MyDataConfig
from handlers.mydata.sandbox.app import Client, Sandbox, create_sandbox_app
from handlers.mydata.sandbox.server import MyDataRequestHandler
from tests.conftest import make_app
from webapp import services

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(app, port: int):
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MyDataRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class World:
    def __init__(self, app, app_url: str, sandbox: Sandbox, sandbox_url: str):
        self.app, self.url, self.sandbox, self.sandbox_url = app, app_url, sandbox, sandbox_url

    def faults(self, **faults) -> None:
        requests.post(f"{self.sandbox_url}/_sandbox/faults", json=faults, timeout=5).raise_for_status()

    def browser(self, username: str = "company") -> requests.Session:
        http = requests.Session()
        token = CSRF.search(http.get(f"{self.url}/login").text).group(1)
        signed_in = http.post(f"{self.url}/login", data={"username": username, "password": "onestop-demo",
                                                          "csrf_token": token})
        assert signed_in.ok
        return http

    def draft(self, http: requests.Session, service: str = "large_vehicle_permit") -> tuple[str, requests.Response]:
        token = CSRF.search(http.get(f"{self.url}/services/{service}").text).group(1)
        page = http.post(f"{self.url}/services/{service}/apply", data={"csrf_token": token})
        draft_id = page.url.rsplit("/", 1)[1]
        return draft_id, page

    def consent(self, http: requests.Session, draft_id: str, national_id: str = "B120863130",
                decision: str = "agree", typed: dict | None = None) -> requests.Response:
        token = CSRF.search(http.get(f"{self.url}/drafts/{draft_id}").text).group(1)
        login_page = http.post(f"{self.url}/mydata/start/{draft_id}",
                               data={"csrf_token": token, **(typed or {})})
        assert login_page.url.startswith(self.sandbox_url), login_page.url
        action = re.search(r'action="([^"]+/login)"', login_page.text).group(1)
        consent_page = http.post(f"{self.sandbox_url}{action}", data={"national_id": national_id})
        if "consent" not in consent_page.text:
            return consent_page
        action = re.search(r'action="([^"]+/consent)"', consent_page.text).group(1)
        return http.post(f"{self.sandbox_url}{action}", data={"decision": decision})

    def submit_permit(self, http: requests.Session, draft_id: str, **overrides) -> requests.Response:
        """Submit the permit draft with the rest of the application typed in and files attached."""
        from tests.factories import PDF, PNG, application_form

        token = CSRF.search(http.get(f"{self.url}/drafts/{draft_id}").text).group(1)
        return http.post(f"{self.url}/drafts/{draft_id}",
                         data={**application_form(**overrides), "action": "submit", "csrf_token": token},
                         files={"attachments-contract": ("c.pdf", PDF, "application/pdf"),
                                "attachments-route_map": ("r.png", PNG, "image/png")})

    def transfer(self) -> MyDataTransaction:
        with self.app.app_context(), reading(services.get().sessions) as s:
            return s.scalar(select(MyDataTransaction).order_by(MyDataTransaction.created_at.desc()))

    def sweep(self, later: timedelta = timedelta()) -> None:
        with self.app.app_context():
            svc = services.get()
            jobs.run_due(svc.sessions, svc.mydata, utcnow() + later)


@pytest.fixture
def world(sqlite_url, tmp_path):
    app_port, sandbox_port = _free_port(), _free_port()
    app_url, sandbox_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{sandbox_port}"
    secret, iv = "S3cr3tK3yS3cr3tK", "InitVector123456"
    sandbox = Sandbox([Client("CLI.test000001", secret, iv, return_prefix=f"{app_url}/mydata/return",
                              sp_api_url=f"{app_url}/mydata/sp-api")])
    cfg = MyDataConfig(base_url=f"{sandbox_url}/", client_id="CLI.test000001", client_secret=secret,
                       cbc_iv=iv, return_url=f"{app_url}/mydata/return",
                       trust_store=(sandbox.ca.certificate,))
    app = make_app(sqlite_url, tmp_path, {"PUBLIC_BASE_URL": app_url, "MYDATA": cfg})
    servers = [_serve(app, app_port), _serve(create_sandbox_app(sandbox, test_endpoints=True), sandbox_port)]
    yield World(app, app_url, sandbox, sandbox_url)
    for server in servers:
        server.shutdown()
    with app.app_context():
        services.get().db.dispose()



def accessibility_violations(page, region) -> list[str]:
    """axe-core's findings in ``region`` (a locator), each as "rule: the elements it found".

    axe is loaded from the app's own static files, as the pages' policy allows scripts only from there.
    """
    page.add_script_tag(url="/static/vendor/axe.min.js")
    return region.evaluate(
        "async el => (await axe.run(el)).violations.map(v => v.id + ': ' + v.nodes.map(n => n.target).join(' '))")


class WatchedBrowser:
    """Chromium whose pages report every Content-Security-Policy violation to ``violations``.

    The web app allows no inline script or style; a page that needs one is broken
    for its users, so every browser test also fails on a violation.
    """

    def __init__(self, chromium) -> None:
        self._chromium = chromium
        self.violations: list[str] = []

    def new_context(self, **kwargs):
        context = self._chromium.new_context(**kwargs)
        context.on("console", self._console)
        return context

    def new_page(self, **kwargs):
        return self.new_context(**kwargs).new_page()

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.violations.append(f"{message.location.get('url')}: {message.text}")

    def __getattr__(self, name: str):
        return getattr(self._chromium, name)


@pytest.fixture
def browser():
    """Headless Chromium from Debian (Playwright cannot download browsers here)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        watched = WatchedBrowser(chromium)
        try:
            yield watched
        finally:
            chromium.close()
        assert not watched.violations, "\n".join(watched.violations)
