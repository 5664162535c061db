"""The daily servicing job through the runner, in one process (both databases):
a year of nightly runs equals the simulation, an ordinary day touches nothing,
a date runs once, missed dates are caught up in order, a failed run resumes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from app import clock
from app.ledger.models import JournalEntry
from app.servicing import batch
from app.servicing.models import Loan
from jobs import daily, runner
from jobs.models import ChunkStatus, JobChunk, JobRun, RunStatus
from jobs.scheduler import trigger
from tests.jobs.portfolio import assert_matches_simulation, build, record_until

DAY = dt.timedelta(days=1)
START, END = dt.date(2027, 1, 1), dt.date(2027, 12, 31)
JOB = daily.NAME


def nightly(db, factory, stories, first: dt.date, last: dt.date, *,
            after_job: Callable[[dt.date], None] | None = None) -> None:
    """Each business date: the job at the start of the day (then ``after_job``),
    then the day's events."""
    day = first
    while day <= last:
        clock.set_today(day)
        [run] = runner.run_dates(factory, JOB, [day])
        assert run.status == RunStatus.done, (day, run.error)
        if after_job is not None:
            after_job(day)
        record_until(db, stories, day)
        day += DAY


def history_until(db, factory, stories, day: dt.date) -> None:
    """Every event through ``day`` recorded, then the nightly job of ``day``."""
    clock.set_today(day)
    record_until(db, stories, day - DAY)
    nightly(db, factory, stories, day, day)


def entry_count(db) -> int:
    return db.scalar(sa.select(sa.func.count()).select_from(JournalEntry))


def test_a_year_of_nightly_runs_equals_the_simulation(db, factory, monkeypatch):
    stories = build(db, 30, start=START, end=END)
    record_until(db, stories, START - DAY)
    # The loans each date's job ran on over arrays (app.engine.vector) equal the
    # simulation right after it: a payment recorded later replays a loan and
    # would mend a wrong bill by reversal, hiding it from the check at the end.
    stepped: list[int] = []
    checked_days = []
    step = batch._Run.stepped

    def counted(run, loan_id, got):
        stepped.append(loan_id)
        step(run, loan_id, got)

    def check_stepped(day: dt.date) -> None:
        if stepped:
            assert assert_matches_simulation(db, stepped, day) == len(set(stepped)), day
            checked_days.append(day)
            stepped.clear()

    monkeypatch.setattr(batch._Run, "stepped", counted)
    nightly(db, factory, stories, START, END, after_job=check_stepped)
    checked = assert_matches_simulation(db, [s.loan_id for s in stories], END)
    assert checked == 30
    assert len(checked_days) > 3, checked_days
    runs = db.scalars(sa.select(JobRun).where(JobRun.job == JOB)).all()
    assert len(runs) == 365 and {r.status for r in runs} == {RunStatus.done}
    # Ordinary days touch no loan: most dates have no chunk at all.
    assert sum(1 for r in runs if r.chunks_total == 0) > 150


def test_ordinary_day_selects_no_loan_and_changes_nothing(db, factory):
    stories = build(db, 12, start=START, end=END)
    history_until(db, factory, stories, dt.date(2027, 3, 3))
    ordinary = dt.date(2027, 3, 4)
    db.expire_all()
    assert db.scalar(sa.select(sa.func.count()).select_from(Loan)
                     .where(Loan.next_action_on <= ordinary)) == 0
    dirty = set(db.scalars(sa.select(Loan.id).where(Loan.dirty_from.is_not(None))))
    before = dict(db.execute(sa.select(Loan.id, Loan.serviced_through)).all())
    [run] = runner.run_dates(factory, JOB, [ordinary])
    assert (run.status, run.items) == (RunStatus.done, len(dirty))
    db.expire_all()
    after = dict(db.execute(sa.select(Loan.id, Loan.serviced_through)).all())
    assert {k for k in before if before[k] != after[k]} == dirty
    if not dirty:
        assert run.chunks_total == 0


def test_a_due_date_is_processed_once(db, factory):
    stories = build(db, 12, start=START, end=END)
    history_until(db, factory, stories, dt.date(2027, 3, 19))
    due = dt.date(2027, 3, 20)
    [first] = runner.run_dates(factory, JOB, [due])
    assert first.items > 0 and first.entries > 0
    entries = entry_count(db)
    [again] = runner.run_dates(factory, JOB, [due])
    assert again.id == first.id and again.attempts == 1
    assert entry_count(db) == entries
    assert_matches_simulation(db, [s.loan_id for s in stories], due)


def test_three_missed_dates_are_caught_up_in_order(db, factory):
    stories = build(db, 20, start=START, end=END, seed=11)
    history_until(db, factory, stories, dt.date(2027, 8, 18))
    down = [dt.date(2027, 8, 19), dt.date(2027, 8, 20), dt.date(2027, 8, 21)]
    for day in down:  # the scheduler is down; banks still record payments
        clock.set_today(day)
        record_until(db, stories, day)
    clock.set_today(down[-1])
    enqueued = trigger(factory)
    daily_runs = [(r.job, r.business_date) for r in enqueued if r.job == JOB]
    assert daily_runs == [(JOB, d) for d in down]  # other jobs start from their first day
    runner.Worker(factory).drain()
    runs = db.scalars(sa.select(JobRun).where(JobRun.job == JOB, JobRun.business_date.in_(down))
                      .order_by(JobRun.business_date)).all()
    assert [r.status for r in runs] == [RunStatus.done] * 3
    assert [r.finished_at for r in runs] == sorted(r.finished_at for r in runs)
    assert runs[1].items > 0  # the 20th: bills and claims
    assert_matches_simulation(db, [s.loan_id for s in stories], down[-1])


def test_failed_run_blocks_later_dates_and_resumes_where_it_stopped(
    db, factory, chunk_size, monkeypatch
):
    chunk_size(4)
    stories = build(db, 16, start=START, end=END, seed=5)
    history_until(db, factory, stories, dt.date(2027, 6, 19))
    due, next_day = dt.date(2027, 6, 20), dt.date(2027, 6, 21)
    calls = []
    real = daily.service_range

    def flaky(session, **kw):
        calls.append(kw["lo"])
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(session, **kw)

    monkeypatch.setattr(daily, "service_range", flaky)
    clock.set_today(next_day)
    with factory.begin() as session:
        runner.enqueue(session, JOB, due)
        runner.enqueue(session, JOB, next_day)
    runner.Worker(factory).drain()
    run = db.scalars(sa.select(JobRun).where(JobRun.business_date == due)).one()
    later = db.scalars(sa.select(JobRun).where(JobRun.business_date == next_day)).one()
    assert run.status == RunStatus.failed and "disk full" in run.error
    assert later.status == RunStatus.pending  # waits for the failed date
    chunks = db.scalars(sa.select(JobChunk).where(JobChunk.run_id == run.id)
                        .order_by(JobChunk.seq)).all()
    assert run.chunks_total == len(chunks) >= 3
    assert [c.status for c in chunks[:2]] == [ChunkStatus.done, ChunkStatus.failed]
    assert {c.status for c in chunks[2:]} == {ChunkStatus.pending}

    with factory.begin() as session:
        runner.retry(session, run.id)
    runner.Worker(factory).drain()
    db.expire_all()
    assert (run.status, later.status) == (RunStatus.done, RunStatus.done)
    chunks = db.scalars(sa.select(JobChunk).where(JobChunk.run_id == run.id)
                        .order_by(JobChunk.seq)).all()
    assert [c.attempts for c in chunks[:2]] == [1, 2]  # the done chunk was not redone
    assert run.chunks_done == run.chunks_total
    assert_matches_simulation(db, [s.loan_id for s in stories], next_day)


def test_retry_refuses_a_run_that_did_not_fail(db, factory):
    from app.errors import Conflict

    with factory.begin() as session:
        run = runner.enqueue(session, JOB, START)
    with factory.begin() as session, pytest.raises(Conflict):
        runner.retry(session, run.id)
