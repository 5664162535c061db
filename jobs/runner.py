"""Running jobs: enqueue business dates, plan runs into chunks, claim and do chunks.

The database decides who does what, so any number of workers (``loans
worker``, on one machine or many sharing one PostgreSQL) process a business
date exactly once:

* ``enqueue`` inserts the run of ``(job, date)`` unless it exists (unique);
* a worker plans a pending run (``FOR UPDATE SKIP LOCKED`` on the run row)
  into chunks, then claims chunks one at a time (``FOR UPDATE SKIP LOCKED``
  on the chunk row) and does each chunk's work and its ``done`` mark in one
  transaction: a worker killed mid-chunk leaves the chunk pending (its
  transaction never commits) and another worker, or the restarted one,
  takes it;
* a run is eligible only when the job's runs of earlier dates, and the runs
  of the jobs it comes ``after`` on the same or earlier dates, are done: a
  missed stretch of dates is caught up in order;
* a failing chunk marks itself and its run failed (the error kept); later
  dates of that job wait; ``retry`` puts the failed chunks back, and the run
  resumes with the chunks not done.

On SQLite every transaction takes the database's single write lock
(``BEGIN IMMEDIATE``): one worker does all chunks, the same code.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now_utc
from app.db import session_scope
from app.errors import Conflict, NotFound
from app.memory import cycle_collection_paused
from app.observability.metrics import observe_job
from jobs.models import ChunkStatus, JobChunk, JobRun, RunStatus
from jobs.progress import Progress
from jobs.registry import ChunkResult, load_jobs

log = logging.getLogger("loans.jobs")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# -- enqueueing ---------------------------------------------------------------


def enqueue(session: Session, job: str, business_date: dt.date) -> JobRun:
    """The run of ``job`` for ``business_date``, created unless it exists."""
    if job not in load_jobs():
        raise NotFound(f"no job named {job!r}")
    query = sa.select(JobRun).where(JobRun.job == job, JobRun.business_date == business_date)
    run = session.scalars(query).one_or_none()
    if run is not None:
        return run
    try:
        with session.begin_nested():
            run = JobRun(job=job, business_date=business_date)
            session.add(run)
    except sa.exc.IntegrityError:  # another process enqueued it first
        run = session.scalars(query).one()
    return run


def enqueue_through(session: Session, today: dt.date) -> list[JobRun]:
    """Enqueue every job for each date after its last run through ``today``.

    The first time a job is seen only ``today`` is enqueued; after downtime
    the missed dates are enqueued too, and the runner does them in order.
    """
    created = []
    for job in load_jobs().values():
        last = session.scalar(sa.select(sa.func.max(JobRun.business_date))
                              .where(JobRun.job == job.name))
        day = today if last is None else last + dt.timedelta(days=1)
        while day <= today:
            if job.applies(day):
                created.append(enqueue(session, job.name, day))
            day += dt.timedelta(days=1)
    return created


def retry(session: Session, run_id: int) -> JobRun:
    """Put a failed run's failed chunks back; the done ones stay done."""
    run = session.get(JobRun, run_id)
    if run is None:
        raise NotFound(f"job run {run_id} not found")
    if run.status != RunStatus.failed:
        raise Conflict(f"job run {run_id} is {run.status.value}, not failed", code="not_failed")
    session.execute(sa.update(JobChunk).where(JobChunk.run_id == run.id,
                                              JobChunk.status == ChunkStatus.failed)
                    .values(status=ChunkStatus.pending, error=None))
    planned = session.scalar(sa.select(sa.func.count()).select_from(JobChunk)
                             .where(JobChunk.run_id == run.id))
    run.status = RunStatus.running if planned else RunStatus.pending
    run.error = None
    return run


def reset(session: Session, job: str, business_date: dt.date) -> JobRun:
    """Make ``job``'s run for ``business_date`` pending again, from scratch (its
    chunks dropped), so workers redo the date; created if it never ran.  Jobs
    are idempotent per date, so a redone date posts only what is missing."""
    run = enqueue(session, job, business_date)
    if run.status == RunStatus.running:
        raise Conflict(f"job run {run.id} is running", code="running")
    session.execute(sa.delete(JobChunk).where(JobChunk.run_id == run.id))
    run.status, run.error, run.started_at, run.finished_at = RunStatus.pending, None, None, None
    run.chunks_total = run.chunks_done = run.items = run.entries = 0
    run.seconds = 0.0
    return run


# -- eligibility ----------------------------------------------------------------


def _eligible(session: Session, status: RunStatus) -> list[int]:
    """Ids of runs in ``status`` that nothing before them holds up, oldest first."""
    jobs = load_jobs()
    open_runs = session.execute(
        sa.select(JobRun.id, JobRun.job, JobRun.business_date, JobRun.status)
        .where(JobRun.status != RunStatus.done).order_by(JobRun.business_date, JobRun.id)
    ).all()
    eligible = []
    for run in open_runs:
        if run.status != status or run.job not in jobs:
            continue
        after = jobs[run.job].after
        blocked = any(
            (o.job == run.job and o.business_date < run.business_date)
            or (o.job in after and o.business_date <= run.business_date)
            for o in open_runs
        )
        if not blocked:
            eligible.append(run.id)
    return eligible


def _claim(session: Session, model: type, query: sa.Select) -> object | None:
    """The first row of ``query``, locked, skipping rows other workers hold."""
    return session.scalars(
        query.limit(1).with_for_update(skip_locked=True, of=model)
    ).first()


# -- working ------------------------------------------------------------------


# How often a worker looks again while another plans the run it is waiting for.
PLANNING_POLL_SECONDS = 0.05


class Worker:
    """Does eligible work until there is none (or forever, polling)."""

    def __init__(self, factory: sessionmaker[Session], *, name: str | None = None,
                 progress: Callable[[str, int], Progress] | None = None) -> None:
        self.factory = factory
        self.name = name or worker_name()
        self.stop = threading.Event()
        self._progress = progress or Progress
        self._bars: dict[int, Progress] = {}

    def drain(self) -> int:
        """Work until nothing is eligible; returns the chunks this worker did.  A run
        another worker is planning is work to come: this one waits for its
        chunks rather than leave them all to the planner."""
        done = 0
        while not self.stop.is_set():
            if self.plan_one():
                continue
            if self.do_one():
                done += 1
                continue
            if not self._planned_elsewhere():
                break
            self.stop.wait(PLANNING_POLL_SECONDS)
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()
        return done

    def _planned_elsewhere(self) -> bool:
        """Whether an eligible run is still pending: one this worker could not
        claim, since another holds it while planning it."""
        with session_scope(self.factory) as session:
            return bool(_eligible(session, RunStatus.pending))

    def serve(self, poll_seconds: float) -> None:
        """Drain, wait, drain again, until ``stop`` is set (SIGTERM, Ctrl-C)."""
        log.info("worker %s: looking for work every %.1f s", self.name, poll_seconds)
        while not self.stop.is_set():
            self.drain()
            self.stop.wait(poll_seconds)

    def plan_one(self) -> bool:
        """Split one eligible pending run into chunks; False if there is none."""
        with session_scope(self.factory) as session:
            ids = _eligible(session, RunStatus.pending)
            if not ids:
                return False
            run = _claim(session, JobRun, sa.select(JobRun).where(
                JobRun.id.in_(ids), JobRun.status == RunStatus.pending
            ).order_by(JobRun.business_date, JobRun.id))
            if run is None:
                return False
            job = load_jobs()[run.job]
            ranges = job.plan(session, run.business_date)
            if ranges:
                session.execute(sa.insert(JobChunk), [
                    {"run_id": run.id, "seq": seq, "lo": lo, "hi": hi,
                     "status": ChunkStatus.pending}
                    for seq, (lo, hi) in enumerate(ranges, 1)
                ])
            run.chunks_total = len(ranges)
            run.attempts += 1
            run.started_at = run.started_at or now_utc()
            run.status = RunStatus.running if ranges else RunStatus.done
            if not ranges:
                run.finished_at = now_utc()
            log.info("%s %s: planned %d chunk(s)", run.job, run.business_date, len(ranges))
            return True

    def do_one(self) -> bool:
        """Claim one chunk of an eligible run and do it; False if there is none."""
        chunk_id = None
        try:
            with session_scope(self.factory) as session:
                ids = _eligible(session, RunStatus.running)
                if not ids:
                    return False
                chunk = _claim(session, JobChunk, sa.select(JobChunk).where(
                    JobChunk.run_id.in_(ids), JobChunk.status == ChunkStatus.pending
                ).order_by(JobChunk.run_id, JobChunk.seq))
                if chunk is None:
                    return False
                run = session.get_one(JobRun, chunk.run_id)
                chunk_id, run_id, day = chunk.id, run.id, run.business_date
                job = load_jobs()[run.job]
                with observe_job(run.job, day.isoformat()):
                    result, seconds = self._timed(job.run, session, day, chunk.lo, chunk.hi)
                self._done(session, run, chunk, result, seconds)
        except Exception as exc:  # the chunk's transaction rolled back: record why
            if chunk_id is None:
                raise
            self._fail(chunk_id, exc)
            return True
        self._report(run_id)
        return True

    @staticmethod
    def _timed(fn: Callable[..., ChunkResult], *args: object) -> tuple[ChunkResult, float]:
        started = time.perf_counter()
        with cycle_collection_paused():
            result = fn(*args)
        return result, time.perf_counter() - started

    def _done(self, session: Session, run: JobRun, chunk: JobChunk, result: ChunkResult,
              seconds: float) -> None:
        chunk.status = ChunkStatus.done
        chunk.attempts += 1
        chunk.items, chunk.entries, chunk.seconds = result.items, result.entries, seconds
        chunk.worker, chunk.finished_at = self.name, now_utc()
        session.flush()
        # Counters are increments on the run row: concurrent chunk commits queue
        # on its lock, and whoever does the last chunk sees it and closes the run.
        session.execute(sa.update(JobRun).where(JobRun.id == run.id).values(
            chunks_done=JobRun.chunks_done + 1, items=JobRun.items + result.items,
            entries=JobRun.entries + result.entries, seconds=JobRun.seconds + seconds))
        session.execute(sa.update(JobRun).where(
            JobRun.id == run.id, JobRun.chunks_done >= JobRun.chunks_total,
            JobRun.status == RunStatus.running,
        ).values(status=RunStatus.done, finished_at=now_utc()))
        log.debug("%s %s: chunk %d [%d, %d] done: %d items, %d entries, %.2f s", run.job,
                  run.business_date, chunk.seq, chunk.lo, chunk.hi, result.items,
                  result.entries, seconds)

    def _fail(self, chunk_id: int, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        with session_scope(self.factory) as session:
            marked = session.execute(
                sa.update(JobChunk).where(JobChunk.id == chunk_id,
                                          JobChunk.status == ChunkStatus.pending)
                .values(status=ChunkStatus.failed, error=error, worker=self.name,
                        attempts=JobChunk.attempts + 1)
            ).rowcount
            if marked:
                run_id = session.get_one(JobChunk, chunk_id).run_id
                session.execute(sa.update(JobRun).where(JobRun.id == run_id)
                                .values(status=RunStatus.failed, error=error))
        log.error("chunk %d failed: %s", chunk_id, error)

    def _report(self, run_id: int) -> None:
        with self.factory() as session:
            run = session.get_one(JobRun, run_id)
        bar = self._bars.get(run_id)
        if bar is None:
            bar = self._bars[run_id] = self._progress(
                f"{run.job} {run.business_date}", run.chunks_total)
        bar.update(run.chunks_done, f"{run.items} items, {run.entries} entries")
        if run.status == RunStatus.done:
            bar.close()
            del self._bars[run_id]
            log.info("%s %s done: %d chunks, %d items, %d entries", run.job,
                     run.business_date, run.chunks_total, run.items, run.entries)


def run_dates(factory: sessionmaker[Session], job: str, dates: list[dt.date]) -> list[JobRun]:
    """Enqueue ``job`` for ``dates`` and work until nothing is left (one process)."""
    with session_scope(factory) as session:
        for day in dates:
            enqueue(session, job, day)
    Worker(factory).drain()
    with factory() as session:
        return list(session.scalars(sa.select(JobRun).where(
            JobRun.job == job, JobRun.business_date.in_(dates)).order_by(JobRun.business_date)))
