"""``loans worker``, ``loans scheduler`` and ``loans jobs ...``."""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer

from app import clock
from app.config import get_settings
from app.db import make_engine, make_session_factory, session_scope
from app.errors import DomainError
from jobs import runner
from jobs.models import JobRun

jobs_cli = typer.Typer(help="Scheduled jobs: runs per business date.", no_args_is_help=True)

DateOption = Annotated[
    dt.datetime | None,
    typer.Option("--date", formats=["%Y-%m-%d"], help="business date (default: today)"),
]


def _factory():
    return make_session_factory(make_engine(get_settings().database_url))


def _day(value: dt.datetime | None) -> dt.date:
    return value.date() if value else clock.today()


def worker(
    once: Annotated[bool, typer.Option("--once", help="exit when no work is left")] = False,
    poll: Annotated[float, typer.Option(help="seconds between looks for work")] = 5.0,
) -> None:
    """Claim and do job chunks (run as many as you like, on any machine)."""
    w = runner.Worker(_factory())
    signal.signal(signal.SIGTERM, lambda *_: w.stop.set())
    if once:
        done = w.drain()
        typer.echo(f"worker {w.name}: {done} chunk(s) done, nothing left")
        return
    try:
        w.serve(poll)
    except KeyboardInterrupt:
        w.stop.set()


def scheduler(
    catch_up_only: Annotated[bool, typer.Option(
        "--catch-up-only", help="enqueue missed dates through today and exit")] = False,
) -> None:
    """Enqueue each business date's job runs (and missed ones); workers do the work."""
    from jobs.scheduler import build_scheduler, trigger

    factory = _factory()
    if catch_up_only:
        runs = trigger(factory)
        typer.echo(f"{len(runs)} run(s) enqueued")
        return
    with contextlib.suppress(KeyboardInterrupt):
        build_scheduler(factory, blocking=True).start()


def _report(runs: list[JobRun]) -> None:
    """One line per run; exit 1 unless all are done."""
    for run in runs:
        typer.echo(f"run {run.id}: {run.job} {run.business_date} {run.status.value}, "
                   f"{run.items} items, {run.entries} entries" +
                   (f" — {run.error}" if run.error else ""))
    if any(run.status.value != "done" for run in runs):
        raise typer.Exit(1)


@jobs_cli.command("enqueue")
def enqueue_cmd(job: str, date: DateOption = None) -> None:
    """Enqueue JOB for a business date (nothing if it already exists)."""
    try:
        with session_scope(_factory()) as session:
            run = runner.enqueue(session, job, _day(date))
            typer.echo(f"run {run.id}: {run.job} {run.business_date} {run.status.value}")
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None


@jobs_cli.command("run")
def run_cmd(job: str, date: DateOption = None) -> None:
    """Enqueue JOB for a business date and work until it is done (this process)."""
    factory = _factory()
    try:
        runs = runner.run_dates(factory, job, [_day(date)])
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    _report(runs)


@jobs_cli.command("rerun")
def rerun_cmd(
    job: str,
    date: Annotated[dt.datetime, typer.Argument(formats=["%Y-%m-%d"], help="business date")],
) -> None:
    """Redo JOB for a business date from scratch, in this process (idempotent
    jobs post only what is missing)."""
    factory = _factory()
    try:
        with session_scope(factory) as session:
            runner.reset(session, job, date.date())
        runs = runner.run_dates(factory, job, [date.date()])
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    _report(runs)


@jobs_cli.command("status")
def status_cmd(limit: int = 20) -> None:
    """The latest job runs."""
    with _factory()() as session:
        runs = session.scalars(sa.select(JobRun).order_by(JobRun.id.desc()).limit(limit)).all()
    for r in runs:
        typer.echo(f"{r.id:>6} {r.job:<20} {r.business_date} {r.status.value:<8} "
                   f"{r.chunks_done}/{r.chunks_total} chunks {r.items} items "
                   f"{r.entries} entries" + (f"  {r.error}" if r.error else ""))


@jobs_cli.command("retry")
def retry_cmd(run_id: int) -> None:
    """Retry a failed run: its failed chunks go back to pending."""
    try:
        with session_scope(_factory()) as session:
            run = runner.retry(session, run_id)
            typer.echo(f"run {run.id} {run.status.value}; start a worker to finish it")
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None


def bench(
    loans: Annotated[int, typer.Option(help="loans in the synthetic portfolio")] = 1_000_000,
    database_url: Annotated[str | None, typer.Option(
        help="database to build in (PostgreSQL: a fresh schema; default: LOANS_DATABASE_URL)",
    )] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="write the summary here")] = None,
    workers: Annotated[int, typer.Option(
        help="worker processes for the daily job and of the API server")] = 2,
    repayment_lines: Annotated[int, typer.Option(
        help="lines of the repayment file (at most one per loan)")] = 1_000_000,
    api_clients: Annotated[int, typer.Option(
        help="concurrent HTTP clients of the API figure", min=1)] = 32,
    api_seconds: Annotated[float, typer.Option(
        help="seconds measured on each side of the API figure (0: skip it)", min=0)] = 15,
    keep: Annotated[bool, typer.Option(help="keep the bench schema or file afterwards")] = False,
    build_only: Annotated[bool, typer.Option(
        help="build and keep the portfolio, measure nothing")] = False,
    schema: Annotated[str | None, typer.Option(
        help="measure the portfolio a --build-only run kept in this PostgreSQL schema "
             "(it is changed by measuring: measure a copy of the database)")] = None,
) -> None:
    """Build a synthetic portfolio and measure performance.md's figures against
    their bare baselines (ordinary day, due day, repayment file, default list, memory,
    API origination requests/s against a bare INSERT endpoint)."""
    from jobs.bench import run_bench, write_json

    summary = run_bench(loans=loans, database_url=database_url or get_settings().database_url,
                        workers=workers, repayment_lines=repayment_lines,
                        api_clients=api_clients, api_seconds=api_seconds, keep=keep,
                        build_only=build_only, schema=schema, log=typer.echo)
    if json_file is not None:
        write_json(summary, json_file)
        typer.echo(f"summary written to {json_file}")
