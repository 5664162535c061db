"""The scheduler only triggers: it enqueues business dates, workers do the work.

APScheduler 3 fires ``trigger`` at start (catching up dates missed while it
was down) and every night at 00:30 China time.  Which dates to enqueue comes
from the job runs table (every date after a job's last run, through today),
not from the firing time, so a late or repeated firing enqueues nothing new
and several schedulers are harmless (the run of a date is unique).

``make run`` starts it inside the API process (``LOANS_RUN_SCHEDULER=true``)
together with an in-process worker that drains the queue every minute: the
single-machine default.  At scale, run one ``loans scheduler`` and any number
of ``loans worker`` processes instead.
"""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from app import clock
from app.clock import now_utc
from app.db import session_scope
from app.reference.calendar import calendar_notice
from jobs.models import JobRun
from jobs.runner import Worker, enqueue_through

log = logging.getLogger("loans.scheduler")
TIMEZONE = "Asia/Shanghai"


def trigger(factory: sessionmaker[Session]) -> list[JobRun]:
    """Enqueue every job for each business date not yet enqueued, through today;
    and warn when the known working-day calendar is about to run out."""
    with session_scope(factory) as session:
        runs = enqueue_through(session, clock.today())
        notice = calendar_notice(session, clock.today())
    if runs:
        log.info("enqueued: %s", ", ".join(f"{r.job} {r.business_date}" for r in runs))
    if notice:
        log.warning(notice)
    return runs


def build_scheduler(
    factory: sessionmaker[Session], *, blocking: bool, drain_every_seconds: float | None = None
) -> BaseScheduler:
    """The scheduler; with ``drain_every_seconds`` it also runs an in-process worker."""
    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone=TIMEZONE)
    common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
    scheduler.add_job(trigger, args=[factory], id="catch-up", **common)  # now, at start
    scheduler.add_job(trigger, CronTrigger(hour=0, minute=30, timezone=TIMEZONE),
                      args=[factory], id="nightly", **common)
    if drain_every_seconds:
        worker = Worker(factory, name="in-process")
        first = now_utc() + dt.timedelta(seconds=5)  # just after the catch-up at start
        scheduler.add_job(worker.drain, IntervalTrigger(seconds=drain_every_seconds),
                          id="worker", next_run_time=first, **common)
    return scheduler
