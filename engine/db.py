"""Database plumbing: the declarative base, engine creation and the session factory.

SQLite is the embedded default; PostgreSQL is used through psycopg 3. JSON columns
become JSONB on PostgreSQL so that searchable fields can be indexed there.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timezone

import orjson
from sqlalchemy import JSON, DateTime, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def sqlite_time(value: datetime) -> str:
    """A timestamp as ``UTCDateTime`` stores it on SQLite, for statements sent to the driver directly."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def json_text(value) -> str:
    """JSON as every JSON column stores it, for statements sent to the driver directly too."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine with the per-backend settings Onestop relies on."""
    kwargs.setdefault("json_serializer", json_text)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_recycle", 300)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn) -> None:
    # Writers take the lock up front so that two commands serialise instead of
    # failing on lock upgrade halfway through; readers never block anyone (WAL).
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _begin(session: Session, write: bool = True) -> SessionTransaction:
    """The session's transaction; a writer's takes SQLite's write lock at once (see ``_sqlite_begin``)."""
    begun = session.begin()
    if write:
        session.connection(execution_options={"sqlite_immediate": True})
    return begun


@contextlib.contextmanager
def transaction(factory: sessionmaker[Session], write: bool = True) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session:
        with _begin(session, write):
            yield session


class LazySession:
    """A write session, with its transaction, that opens on first use.

    An engine command that starts from its in-process snapshot and calls no
    handler reads nothing and ends with one statement of its own; SQLAlchemy's
    session would cost it a begin and a commit of about a tenth of a
    millisecond for nothing. This stands in for that session (every attribute
    is the real session's) and opens it only when something asks for it.
    """

    __slots__ = ("_factory", "_session", "_transaction")

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._session: Session | None = None
        self._transaction = None

    @property
    def opened(self) -> bool:
        return self._session is not None

    def _open(self) -> Session:
        if self._session is None:
            session = self._factory()
            try:
                self._transaction = _begin(session)
            except BaseException:
                session.close()
                raise
            self._session = session
        return self._session

    def __getattr__(self, name: str):
        return getattr(self._open(), name)

    def end(self, commit: bool) -> None:
        if self._session is None:
            return
        try:
            if commit:
                self._transaction.commit()
            else:
                self._transaction.rollback()
        finally:
            self._session.close()
            self._session = None


@contextlib.contextmanager
def lazy_transaction(factory: sessionmaker[Session]) -> Iterator[LazySession]:
    """``transaction``, with a session that opens only if the unit of work uses it."""
    session = LazySession(factory)
    try:
        yield session
    except BaseException:
        session.end(commit=False)
        raise
    session.end(commit=True)


@contextlib.contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A short unit of work for reads; objects stay usable after it ends."""
    with factory() as session:
        with session.begin():
            yield session
