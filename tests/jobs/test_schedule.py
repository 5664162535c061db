"""What the scheduler enqueues for a date, and the order the jobs of a date run in."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app import clock
from jobs import runner
from jobs.models import JobRun, RunStatus
from jobs.scheduler import build_scheduler, trigger


def _runs(db, day):
    db.expire_all()
    return db.scalars(sa.select(JobRun).where(JobRun.business_date == day)).all()


def test_new_year_enqueues_every_daily_job_and_the_risk_fund(db, factory):
    day = dt.date(2028, 1, 1)
    clock.set_today(day)
    assert {r.job for r in trigger(factory)} == {
        "bank_files", "daily_servicing", "default_lists", "idempotency_keys", "risk_fund"}
    assert trigger(factory) == []  # the date is enqueued once
    runner.Worker(factory).drain()
    runs = {r.job: r for r in _runs(db, day)}
    assert {r.status for r in runs.values()} == {RunStatus.done}
    order = sorted(runs.values(), key=lambda r: r.finished_at)
    assert order[0].job == "bank_files" and order[1].job == "daily_servicing"


def test_settlement_day_adds_the_subsidy_statements_after_servicing(db, factory):
    clock.set_today(dt.date(2028, 3, 19))
    trigger(factory)
    clock.set_today(dt.date(2028, 3, 20))
    enqueued = trigger(factory)
    assert {(r.job, r.business_date) for r in enqueued} == {
        (job, dt.date(2028, 3, 20))
        for job in ("bank_files", "daily_servicing", "default_lists", "idempotency_keys",
                    "subsidy_statements")}
    runner.Worker(factory).drain()
    runs = {r.job: r for r in _runs(db, dt.date(2028, 3, 20))}
    assert runs["subsidy_statements"].status == RunStatus.done
    assert runs["subsidy_statements"].finished_at > runs["daily_servicing"].finished_at


def test_the_scheduler_only_triggers(factory):
    scheduler = build_scheduler(factory, blocking=False)
    assert {job.id for job in scheduler.get_jobs()} == {"catch-up", "nightly"}
    with_worker = build_scheduler(factory, blocking=False, drain_every_seconds=60)
    assert {job.id for job in with_worker.get_jobs()} == {"catch-up", "nightly", "worker"}
