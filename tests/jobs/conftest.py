"""Fixtures for job tests: a session factory on the test's connection (the
runner commits into SAVEPOINTs there) and a pinned business date."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from app import clock
from app.config import get_settings
from app.db import make_session_factory


@pytest.fixture
def factory(connection: Connection) -> sessionmaker[Session]:
    return make_session_factory(connection, join_transaction_mode="create_savepoint")


@pytest.fixture(autouse=True)
def _real_clock_afterwards() -> Iterator[None]:
    yield
    clock.set_today(None)


@pytest.fixture
def chunk_size(monkeypatch: pytest.MonkeyPatch):
    """``chunk_size(n)``: loans per chunk of the daily job for this test."""
    return lambda n: monkeypatch.setattr(get_settings(), "jobs_chunk_size", n)
