"""Fixtures shared by every suite: databases on both backends, the app, signed-in clients."""
from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine.migrate import upgrade

# argon2's cheapest parameters for the demo passwords: same algorithm, a thousand sign-ins in seconds
os.environ.setdefault("ONESTOP_PASSWORD_PROFILE", "test")

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
PG_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"]


def _admin(base_url: str):
    return create_engine(base_url, isolation_level="AUTOCOMMIT")


def _fresh_postgres(base_url: str, template: str | None = None) -> str:
    """A brand-new database per test (a copy of ``template`` if given), dropped afterwards."""
    name = f"onestop_t_{uuid.uuid4().hex[:12]}"
    admin = _admin(base_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    admin.dispose()
    return base_url.rsplit("/", 1)[0] + "/" + name


def _drop_postgres(base_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = _admin(base_url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory) -> Path:
    """One migrated SQLite file per test session; each test gets a copy (migrating is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "onestop.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _migrated_postgres():
    """One migrated PostgreSQL database per session, the template each test's database is made from."""
    if not PG_URL:
        yield None
        return
    url = _fresh_postgres(PG_URL)
    upgrade(url)
    yield url.rsplit("/", 1)[1]
    _drop_postgres(PG_URL, url)


def _seeded_copy(template_url: str, instance: Path) -> None:
    app = make_app(template_url, instance)
    from webapp import services

    with app.app_context():
        services.get().db.dispose()  # a PostgreSQL template must have no connections


@pytest.fixture(scope="session")
def _seeded_sqlite(_migrated_sqlite, tmp_path_factory) -> Path:
    """The migrated template with the demo data: seeding once saves a quarter second per test."""
    path = tmp_path_factory.mktemp("seeded") / "onestop.db"
    shutil.copyfile(_migrated_sqlite, path)
    _seeded_copy(f"sqlite:///{path}", path.parent)
    return path


@pytest.fixture(scope="session")
def _seeded_postgres(_migrated_postgres, tmp_path_factory):
    if not PG_URL:
        yield None
        return
    url = _fresh_postgres(PG_URL, template=_migrated_postgres)
    _seeded_copy(url, tmp_path_factory.mktemp("seeded-pg"))
    yield url.rsplit("/", 1)[1]
    _drop_postgres(PG_URL, url)


def _sqlite_copy(template: Path, tmp_path: Path) -> str:
    target = tmp_path / "onestop.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def _database_on(backend: str, tmp_path: Path, sqlite_template: Path, postgres_template: str | None):
    if backend == "postgresql":
        if not PG_URL:
            pytest.skip("TEST_DATABASE_URL is not set")
        url = _fresh_postgres(PG_URL, template=postgres_template)
        yield url
        _drop_postgres(PG_URL, url)
    else:
        yield _sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path, _migrated_sqlite, _migrated_postgres):
    """A migrated, empty database on each backend (PostgreSQL only with TEST_DATABASE_URL)."""
    yield from _database_on(request.param, tmp_path, _migrated_sqlite, _migrated_postgres)


@pytest.fixture(params=BACKENDS)
def seeded_database_url(request, tmp_path, _seeded_sqlite, _seeded_postgres):
    """A migrated database holding the demo data ``seed`` writes, on each backend."""
    yield from _database_on(request.param, tmp_path, _seeded_sqlite, _seeded_postgres)


@pytest.fixture
def sqlite_url(tmp_path, _migrated_sqlite):
    return _sqlite_copy(_migrated_sqlite, tmp_path)


@pytest.fixture
def postgres_url(_migrated_postgres):
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    url = _fresh_postgres(PG_URL, template=_migrated_postgres)
    yield url
    _drop_postgres(PG_URL, url)


def make_app(url: str, tmp_path: Path, overrides: dict | None = None, *, seeded: bool = False):
    """The app on ``url``, seeded with the demo data unless the database already holds it."""
    from webapp import create_app, seed, services

    os.environ.setdefault("ONESTOP_INSTANCE", str(tmp_path / "instance"))
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test-secret",
                      "PUBLIC_BASE_URL": "http://onestop.test", "MYDATA_EMBEDDED_SANDBOX": False,
                      "PETITION_1999_EMBEDDED_SANDBOX": False,
                      **(overrides or {})})
    if not seeded:
        with app.app_context():
            seed.seed(services.get().engine, ROOT / "bpmn")
    return app


@pytest.fixture
def app(seeded_database_url, tmp_path):
    app = make_app(seeded_database_url, tmp_path, seeded=True)
    yield app
    from webapp import services

    with app.app_context():
        services.get().db.dispose()


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class Client:
    """A signed-in browser stand-in that sends the CSRF token like a real form would."""

    def __init__(self, flask_client, username: str | None = None):
        self.http = flask_client
        self.username = username
        self._token: str | None = None

    def login(self, username: str, password: str = "onestop-demo") -> "Client":
        page = self.http.get("/login")
        token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
        response = self.http.post("/login", data={"username": username, "password": password,
                                                  "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)
        self.username = username
        self._token = None
        return self

    def csrf(self) -> str:
        if self._token is None:
            page = self.http.get("/")
            self._token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
        return self._token

    def get(self, url: str, **kw):
        return self.http.get(url, **kw)

    def post(self, url: str, data=None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf())
        return self.http.post(url, data=data, **kw)

    def api(self, method: str, url: str, json=None, headers=None):
        headers = {"X-CSRFToken": self.csrf(), **(headers or {})}
        return self.http.open(url, method=method, json=json, headers=headers)


@pytest.fixture
def login(app):
    def make(username: str) -> Client:
        return Client(app.test_client()).login(username)

    return make
