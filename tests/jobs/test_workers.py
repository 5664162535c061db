"""Worker processes on a committed database: two workers share a date and do
each chunk once (PostgreSQL); a worker killed part-way is restarted and the
date completes with the result of an uninterrupted run (both databases)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app import clock
from app.config import REPO_ROOT
from app.db import make_engine, make_session_factory, run_migrations, session_scope
from app.ledger.models import JournalEntry
from jobs import daily, runner
from jobs.bench import polling
from jobs.models import ChunkStatus, JobChunk, JobRun, RunStatus
from tests.jobs.portfolio import assert_matches_simulation, build, record_until

DUE = dt.date(2027, 3, 20)


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _env(engine: Engine) -> dict[str, str]:
    return os.environ | {"LOANS_DATABASE_URL": _url(engine), "LOANS_JOBS_CHUNK_SIZE": "1"}


def _worker(engine: Engine, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "app.cli", "worker", *args], cwd=REPO_ROOT,
                            env=_env(engine), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _portfolio(engine: Engine, n: int, *, dirty: bool) -> list[int]:
    """``n`` loans with their history through the day before ``DUE``, the run of
    ``DUE`` not yet enqueued.  ``dirty``: nothing serviced yet (every loan is
    replayed by the job, slow enough to be stopped part-way)."""
    factory = make_session_factory(engine)
    clock.set_today(DUE - dt.timedelta(days=1))
    try:
        with session_scope(factory) as session:
            stories = build(session, n, start=dt.date(2027, 1, 1), end=dt.date(2027, 12, 31))
            record_until(session, stories, DUE - dt.timedelta(days=1),
                         service=False if dirty else None)
            return [s.loan_id for s in stories]
    finally:
        clock.set_today(None)


def _enqueue(engine: Engine) -> int:
    with session_scope(make_session_factory(engine)) as session:
        return runner.enqueue(session, daily.NAME, DUE).id


def _check_date_done_once(engine: Engine, run_id: int,
                          loan_ids: list[int]) -> list[tuple[int, str]]:
    """Asserts the date is done exactly once; each chunk's (attempts, worker)."""
    factory = make_session_factory(engine)
    with factory() as session:
        run = session.get_one(JobRun, run_id)
        chunks = list(session.scalars(sa.select(JobChunk).where(JobChunk.run_id == run_id)))
        assert run.status == RunStatus.done, run.error
        assert run.chunks_done == run.chunks_total == len(chunks) > 0
        assert {c.status for c in chunks} == {ChunkStatus.done}
        done_by = [(c.attempts, c.worker) for c in chunks]
        assert run.items == sum(c.items for c in chunks) > 0
        twice = session.execute(
            sa.select(JournalEntry.loan_id, JournalEntry.slot).where(
                JournalEntry.posted_by == f"job:{daily.NAME}",
                JournalEntry.reverses_entry_id.is_(None))
            .group_by(JournalEntry.loan_id, JournalEntry.slot)
            .having(sa.func.count() > 1)
        ).all()
        assert twice == []
        assert assert_matches_simulation(session, loan_ids, DUE) == len(loan_ids)
    verify = subprocess.run([sys.executable, "-m", "app.cli", "ledger", "verify"],
                            cwd=REPO_ROOT, env=os.environ | {"LOANS_DATABASE_URL": _url(engine)},
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    return done_by


@pytest.mark.pg_only
def test_two_workers_process_a_date_once(committed_engine: Engine) -> None:
    loan_ids = _portfolio(committed_engine, 60, dirty=False)
    command = [sys.executable, "-m", "app.cli", "worker", "--poll", "0.2"]
    with polling(command, 2, _env(committed_engine)):  # both poll before there is work
        run_id = _enqueue(committed_engine)
        with make_session_factory(committed_engine)() as session:
            for _ in range(600):
                session.expire_all()
                if session.get_one(JobRun, run_id).status in (RunStatus.done, RunStatus.failed):
                    break
                time.sleep(0.1)
    chunks = _check_date_done_once(committed_engine, run_id, loan_ids)
    assert {attempts for attempts, _ in chunks} == {1}
    assert len({worker for _, worker in chunks}) == 2  # both took part


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    """A committed database other processes can open: a SQLite file or a PostgreSQL schema."""
    if request.param == "postgresql":
        yield request.getfixturevalue("committed_engine")
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'loans.db'}")
    run_migrations(engine)
    yield engine
    engine.dispose()


def test_worker_killed_part_way_is_restarted_and_the_date_completes(shared_engine) -> None:
    loan_ids = _portfolio(shared_engine, 60, dirty=True)
    run_id = _enqueue(shared_engine)
    worker = _worker(shared_engine, "--once")
    # A plain engine: on SQLite its reads take no write lock, so the worker's
    # chunk transactions cannot starve them.
    watcher = sa.create_engine(_url(shared_engine))
    done_chunks = sa.select(sa.func.count()).select_from(JobChunk).where(
        JobChunk.run_id == run_id, JobChunk.status == ChunkStatus.done)
    for _ in range(2400):
        with watcher.connect() as conn:
            if conn.scalar(done_chunks) >= 3 or worker.poll() is not None:
                break
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    watcher.dispose()
    worker.wait(timeout=30)
    with make_session_factory(shared_engine)() as session:
        run = session.get_one(JobRun, run_id)
        assert run.status == RunStatus.running and 3 <= run.chunks_done < run.chunks_total
    restarted = _worker(shared_engine, "--once")
    out, err = restarted.communicate(timeout=600)
    assert restarted.returncode == 0, err
    chunks = _check_date_done_once(shared_engine, run_id, loan_ids)
    assert {attempts for attempts, _ in chunks} == {1}  # nothing done twice


@pytest.mark.pg_only
def test_a_worker_waits_for_a_run_another_is_planning(committed_engine: Engine) -> None:
    """``drain`` (``loans worker --once``) does not leave while another worker
    holds an eligible run to plan it: that run's chunks are work to come."""
    import threading

    from jobs.runner import Worker

    loan_ids = _portfolio(committed_engine, 6, dirty=False)
    run_id = _enqueue(committed_engine)
    factory = make_session_factory(committed_engine)
    done: list[int] = []
    waiting = threading.Thread(target=lambda: done.append(Worker(factory).drain()))
    with factory() as planner:
        planner.execute(sa.select(JobRun).where(JobRun.id == run_id).with_for_update())
        waiting.start()
        waiting.join(1.0)
        left = done[:]
    # The other worker let go of the run unplanned: this one plans it.
    assert waiting.is_alive() and left == []
    waiting.join(120)
    assert done and done[0] > 0
    _check_date_done_once(committed_engine, run_id, loan_ids)
