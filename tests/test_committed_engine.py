"""The ``committed_engine`` fixture: real commits, several connections (PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.db import make_session_factory, session_scope
from app.reference.models import Bank
from tests import factories

pytestmark = pytest.mark.pg_only


def test_commits_are_seen_by_other_connections(committed_engine: Engine) -> None:
    sessions = make_session_factory(committed_engine)

    def create(n: int) -> int:
        with session_scope(sessions) as session:
            return factories.make_bank(session, name=f"Concurrent bank {n}").id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, range(16)))
    with committed_engine.connect() as conn:
        count = conn.scalar(sa.select(sa.func.count()).select_from(Bank))
    assert count == 16 and len(set(ids)) == 16


def test_each_committed_engine_starts_empty(committed_engine: Engine) -> None:
    with committed_engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Bank)) == 0
