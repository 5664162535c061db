"""Test database and fixtures shared by every module's tests.

The database is built once per session by running the Alembic migrations:
SQLite in a temporary file, or PostgreSQL when ``LOANS_TEST_DATABASE_URL`` is
set (its ``public`` schema is dropped and recreated first).  Each test runs in
its own connection inside an outer transaction that is rolled back at the end;
``db`` and the app's ``get_session`` use sessions on that connection that
``commit`` into a SAVEPOINT (``join_transaction_mode="create_savepoint"``), so
the real request code (commit on success, rollback on error) runs unchanged.

Fixtures: ``engine``, ``connection``, ``db``, ``api`` (the app), ``client``, ``make_center``,
``make_university``, ``make_bank``, ``make_agreement``, ``make_enrolment``,
``auth_headers``, ``make_loan``, ``set_today``; ``committed_engine`` (PostgreSQL
only, marker ``pg_only``) for tests that need real commits from several connections.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import hypothesis
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session

from app import clock
from app.auth.models import Role
from app.config import Settings, get_settings
from app.db import make_engine, make_session_factory, run_migrations
from app.main import create_app
from app.reference.models import Bank, Center, University
from tests import factories

SETTINGS: Settings = get_settings()
PG_URL = SETTINGS.test_database_url
ON_PG = PG_URL is not None

hypothesis.settings.register_profile("loans", deadline=None, max_examples=50)
hypothesis.settings.load_profile("loans")


def pytest_report_header() -> str:
    return f"database: {'PostgreSQL ' + make_url(PG_URL).render_as_string() if ON_PG else 'SQLite'}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if ON_PG:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set LOANS_TEST_DATABASE_URL)")
    for item in items:
        if "pg_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if PG_URL is not None:
        engine = make_engine(PG_URL)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    else:
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}")
    run_migrations(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def db(connection: Connection) -> Iterator[Session]:
    session = make_session_factory(connection, join_transaction_mode="create_savepoint")()
    yield session
    session.close()


@pytest.fixture(scope="session")
def api(engine: Engine) -> FastAPI:
    """The application, built once; ``client`` points it at each test's connection."""
    return create_app(SETTINGS, session_factory=make_session_factory(engine))


@pytest.fixture
def client(api: FastAPI, connection: Connection) -> Iterator[TestClient]:
    api.state.session_factory = make_session_factory(
        connection, join_transaction_mode="create_savepoint"
    )
    with TestClient(api) as test_client:
        yield test_client


@pytest.fixture
def committed_engine() -> Iterator[Engine]:
    """An engine on a fresh, migrated PostgreSQL schema of its own, where commits
    are real and several connections see each other's work (concurrency tests).
    Dropped afterwards.  Mark such tests ``pg_only``."""
    if PG_URL is None:
        pytest.skip("needs PostgreSQL (set LOANS_TEST_DATABASE_URL)")
    with pg_schema("committed") as engine:
        run_migrations(engine)
        yield engine


@contextmanager
def pg_schema(prefix: str) -> Iterator[Engine]:
    """An engine on a new, empty PostgreSQL schema of the test database, dropped after."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def empty_engine(tmp_path) -> Iterator[Engine]:
    """A database of its own, not migrated: a file on SQLite, a schema on PostgreSQL
    (for tests that migrate step by step)."""
    if not ON_PG:
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield engine
        engine.dispose()
        return
    with pg_schema("migrating") as engine:
        yield engine


# -- factories ----------------------------------------------------------------


@pytest.fixture
def make_center(db: Session) -> Callable[..., Center]:
    return lambda **kw: factories.make_center(db, **kw)


@pytest.fixture
def make_university(db: Session) -> Callable[..., University]:
    return lambda center=None, **kw: factories.make_university(db, center, **kw)


@pytest.fixture
def make_bank(db: Session) -> Callable[..., Bank]:
    return lambda **kw: factories.make_bank(db, **kw)


@pytest.fixture
def make_agreement(db: Session) -> Callable[..., Any]:
    return lambda center=None, bank=None, **kw: factories.make_agreement(db, center, bank, **kw)


@pytest.fixture
def make_enrolment(db: Session) -> Callable[..., Any]:
    return lambda university=None, **kw: factories.make_enrolment(db, university, **kw)


@pytest.fixture
def auth_headers(db: Session) -> Callable[..., dict[str, str]]:
    """``auth_headers(role, org=None, name=None)``: headers with a new API key of a
    new user of ``org`` (a Center, University or Bank; None for admin)."""

    def headers(
        role: Role | str, org: Center | University | Bank | None = None, name: str | None = None
    ) -> dict[str, str]:
        token, _user_id = factories.make_key(db, role, org, name=name)
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def make_loan(db: Session) -> Callable[..., Any]:
    """``make_loan(agreement=None, **loan columns)``: a signed loan with no events yet."""
    return lambda agreement=None, **kw: factories.make_loan(db, agreement, **kw)


@pytest.fixture
def set_today() -> Iterator[Callable[[str | dt.date], None]]:
    """``set_today("2027-06-30")`` pins the business date; released after the test."""

    def pin(day: str | dt.date) -> None:
        clock.set_today(dt.date.fromisoformat(day) if isinstance(day, str) else day)

    yield pin
    clock.set_today(None)
