"""``loans bench``: the figures of performance.md, each against a bare database
operation on the same rows, measured in the same run.

The portfolio is built through the product's own bulk paths: reference data
through the reference service, loans and their events through
``app.servicing.bulk.import_loans``, their servicing through the nightly job
run by ``loans worker`` processes (the import leaves every loan dirty).
On PostgreSQL everything lives in a fresh schema of the given database,
dropped at the end (``--keep`` to look at it afterwards).

The portfolio (dates fixed, so every run is the same):
* 80% NSL-2004 borrowers who graduated on 2027-06-30 with a quarterly plan and
  paid their first bill on 2027-09-20 (a little more than due: current);
* 15% NSL-1999 borrowers, same dates, principal from the first quarter and
  finance paying half the interest (subsidy claims on settlement dates);
* 5% NSL-2004 borrowers who graduated a year earlier and never paid:
  reportable defaults.
Serviced through 2027-12-04; the ordinary day is 2027-12-05 (nothing due),
the due day 2027-12-20 (every loan billed; NSL-1999 loans also claim), then
a repayment file valued 2027-12-21 (upload to its receipts posted by the
``bank_files`` job's workers: the
``repayment_file`` figure), that date's nightly job, which applies the
file's payments (timed as ``repayment_application``, printed without a
verdict: it has no target, and it also does the date's own work, every
unpaid bill of the 20th turning overdue), and the default list as of that
date, read after its nightly job as the center reads it
(app/defaults/figures.py: from the figures the job cached).
Every figure starts from a vacuumed, analysed database (``Bench.analyze``).
Last, the API figure (jobs/bench_api.py): origination requests per second on
a uvicorn server of the bench's database against a bare INSERT endpoint; it
has no target in performance.md, so it is printed without a verdict.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from app import clock
from app.auth.principal import Principal
from app.config import REPO_ROOT
from app.db import make_engine, make_session_factory, run_migrations, session_scope
from app.servicing.bulk import ImportedEvent, ImportedLoan, import_loans
from app.servicing.models import EventKind, Loan
from jobs import daily, runner
from jobs.models import JobRun, RunStatus
from jobs.progress import Progress

OPERATOR = Principal.operator("loans bench")
BUILT_THROUGH = dt.date(2027, 12, 4)
ORDINARY_DAY = dt.date(2027, 12, 5)
DUE_DAY = dt.date(2027, 12, 20)
FILE_DAY = dt.date(2027, 12, 21)
TARGETS = {"ordinary_day": 0.5, "due_day": 3.0, "repayment_file": 20.0, "default_list": 3.0}
PEAK_RSS_TARGET_MB = 1536
IMPORT_BATCH = 20_000
COPY_SAMPLES = 3  # the bare COPY baselines: median of three (_median_of)
UPDATE_SAMPLES = 3  # the bare UPDATE baselines likewise


# -- the portfolio ----------------------------------------------------------------


def id_number(n: int) -> str:
    """A valid citizen ID number (GB 11643 check digit), distinct for n < 7,000,000."""
    from stdnum.cn import ric

    born = dt.date(1980, 1, 1) + dt.timedelta(days=n // 1000)
    body = f"110105{born:%Y%m%d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # it reads the first 17 of 18 characters


def _plan(grace: int, term: int, method: str) -> dict[str, Any]:
    return {"grace_months": grace, "term_months": term, "frequency": "quarterly",
            "method": method}


def synthetic_loan(n: int, ids: dict[str, int]) -> ImportedLoan:
    amount = Decimal(4000 + 1000 * (n % 5))
    kind = n % 20
    if kind == 0:  # a defaulter: graduated 2026, never paid
        policy, grad, disbursed = "NSL-2004", dt.date(2026, 6, 30), dt.date(2025, 9, 10)
        plan, paid = _plan(12, 72, "equal_installment"), None
    elif kind in (1, 2, 3):  # old rules: principal from the first quarter, subsidy half
        policy, grad, disbursed = "NSL-1999", dt.date(2027, 6, 30), dt.date(2026, 9, 10)
        plan, paid = _plan(0, 48, "equal_principal"), amount * Decimal("0.1")
    else:
        policy, grad, disbursed = "NSL-2004", dt.date(2027, 6, 30), dt.date(2026, 9, 10)
        method = "equal_installment" if n % 2 else "equal_principal"
        plan, paid = _plan(12, 72, method), amount * Decimal("0.02")
    events = [ImportedEvent(EventKind.disbursement, disbursed, amount),
              ImportedEvent(EventKind.plan, grad, data=plan),
              ImportedEvent(EventKind.graduation, grad)]
    if paid is not None:
        events.append(ImportedEvent(EventKind.payment, dt.date(2027, 9, 20), paid))
    return ImportedLoan(
        contract_no=f"BENCH-{n:08d}", borrower_name=f"学生{n}", id_number=id_number(n),
        bank_id=ids["bank"], university_id=ids["university"], center_id=ids["center"],
        agreement_id=ids["agreement"], policy_code=policy, annual_rate=Decimal("0.0612"),
        penalty_markup=Decimal("0.3"), subsidy_settlement="quarterly",
        signed_on=disbursed - dt.timedelta(days=9), events=tuple(events))


def seed_reference(session: Session) -> dict[str, int]:
    """A center, university, bank and agreement (the bank files' seeding, no loans)."""
    from app.bankfiles.bench import seed_bank
    from app.reference.models import Agreement

    bank_id, _ = seed_bank(session, loans=0, tag="bench")
    agreement = session.scalars(sa.select(Agreement).where(Agreement.bank_id == bank_id)).one()
    university_id = session.scalar(sa.text(
        "SELECT id FROM universities WHERE center_id = :c"), {"c": agreement.center_id})
    return {"bank": bank_id, "agreement": agreement.id, "center": agreement.center_id,
            "university": university_id}


# -- measuring --------------------------------------------------------------------


@contextmanager
def timed(out: dict[str, float], key: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    out[key] = time.perf_counter() - started


def peak_rss_mb() -> int:
    """The largest resident set of this process and of any child it waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024)


@contextmanager
def polling(command: list[str], n: int, env: dict[str, str]) -> Iterator[list[subprocess.Popen]]:
    """``n`` processes of ``command`` (workers), each once it has logged that it is
    looking for work; terminated on exit.  A thread each reads the rest of its
    log: a pipe nobody reads fills up (64 KiB, a few hundred chunks' log
    lines) and the worker then blocks on its next line, its chunk's
    transaction open, and the run never ends."""
    procs = [subprocess.Popen(command, cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE, text=True)
             for _ in range(n)]
    try:
        for p in procs:
            while "looking for work" not in (p.stderr.readline() or "looking for work"):
                pass
            # deque(lines, maxlen=0): each line read and dropped, as it comes
            threading.Thread(target=deque, args=(p.stderr, 0), daemon=True).start()
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()


class Bench:
    def __init__(self, engine: Engine, *, workers: int, log=print) -> None:
        self.engine = engine
        self.factory: sessionmaker[Session] = make_session_factory(engine)
        self.workers = workers
        self.log = log
        self.pg = engine.dialect.name == "postgresql"
        self.url = engine.url.render_as_string(hide_password=False)

    # -- building
    def build(self, loans: int) -> dict[str, float]:
        took: dict[str, float] = {}
        with session_scope(self.factory) as session:
            ids = seed_reference(session)
        bar = Progress("importing loans", loans)
        with timed(took, "import_seconds"):
            for start in range(0, loans, IMPORT_BATCH):
                with session_scope(self.factory) as session:
                    import_loans(session, OPERATOR, (
                        synthetic_loan(n, ids)
                        for n in range(start, min(loans, start + IMPORT_BATCH))),
                        batch_size=5000, source="bench")
                bar.update(min(loans, start + IMPORT_BATCH))
        bar.close()
        with timed(took, "first_servicing_seconds"):
            self.run_job(BUILT_THROUGH)
        self.analyze()
        return took

    def analyze(self) -> None:
        """``VACUUM ANALYZE``: after the build, and before each figure.  A figure
        leaves a million dead rows or more behind (its bare ``UPDATE``, the
        job's own writes); production's autovacuum clears them between one
        night's jobs and the next, but when and how much of it runs during a
        figure is chance (and the CI's PostgreSQL runs without it), so the
        bench clears them itself and every figure starts from the same state."""
        self._vacuum("VACUUM ANALYZE")

    def _vacuum(self, statement: str) -> None:
        """A ``VACUUM`` (outside a transaction, as it must run); PostgreSQL only."""
        if self.pg:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql(statement)

    # -- the job, run by worker processes
    def run_job(self, day: dt.date) -> JobRun:
        """Enqueue the daily job for ``day`` and let ``workers`` processes do it."""
        with session_scope(self.factory) as session:
            run_id = runner.enqueue(session, daily.NAME, day).id
        env = os.environ | {"LOANS_DATABASE_URL": self.url}
        procs = [subprocess.Popen([sys.executable, "-m", "app.cli", "worker", "--once"],
                                  cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL)
                 for _ in range(self.workers)]
        for p in procs:
            p.wait()
        return self._finished(run_id)

    def _finished(self, run_id: int) -> JobRun:
        with self.factory() as session:
            run = session.get_one(JobRun, run_id)
        if run.status != RunStatus.done:
            raise RuntimeError(f"job run {run_id} is {run.status.value}: {run.error}")
        return run

    def run_job_timed(self, day: dt.date, job: str = daily.NAME,
                      before: Callable[[], object] | None = None) -> tuple[float, JobRun]:
        """Workers already polling; the time from enqueue (from ``before``, when
        given: what the job is to work on arriving) to the run's end."""
        env = os.environ | {"LOANS_DATABASE_URL": self.url}
        command = [sys.executable, "-m", "app.cli", "worker", "--poll", "0.05"]
        with polling(command, self.workers, env):
            started = time.perf_counter()
            if before is not None:
                before()
            with session_scope(self.factory) as session:
                run_id = runner.enqueue(session, job, day).id
            with self.factory() as session:
                while session.get_one(JobRun, run_id).status not in (RunStatus.done,
                                                                     RunStatus.failed):
                    session.expire_all()
                    session.rollback()
                    time.sleep(0.02)
            seconds = time.perf_counter() - started
        return seconds, self._finished(run_id)

    # -- the bare baselines
    def bare_update(self) -> float:
        """The median of ``UPDATE_SAMPLES`` bare ``UPDATE``s of every loan row, each
        followed (untimed) by a ``VACUUM`` of the loans: a sample leaves a dead
        version of every row and an index entry for it in each of the table's
        indexes, which the next sample, or the figure measured after, would
        otherwise wade through (with autovacuum off; on, whether it had run
        would be chance).  So every sample and the figure start alike."""
        return _median_of(UPDATE_SAMPLES, self._bare_update_once)

    def _bare_update_once(self) -> float:
        with self.engine.begin() as conn:
            started = time.perf_counter()
            conn.execute(sa.text("UPDATE loans SET days_past_due = days_past_due"))
        seconds = time.perf_counter() - started
        self._vacuum("VACUUM loans")
        return seconds

    def bare_copy_in(self, path: Path) -> float:
        columns = "bank_txn_id, contract_no, id_number, amount, value_date, type, reverses"
        with self.engine.begin() as conn:
            typed = ", ".join(f"{c} text" for c in columns.split(", "))
            conn.exec_driver_sql(f"CREATE TEMPORARY TABLE bench_raw ({typed})")
            started = time.perf_counter()
            if self.pg:
                cursor = conn.connection.cursor()
                with cursor.copy(f"COPY bench_raw ({columns}) FROM STDIN WITH (FORMAT csv, "
                                 "HEADER true)") as copy, path.open("rb") as f:
                    while block := f.read(1 << 20):
                        copy.write(block)
            else:
                import csv

                with path.open(encoding="utf-8") as f:
                    rows = list(csv.reader(f))[1:]
                conn.exec_driver_sql(f"INSERT INTO bench_raw VALUES ({', '.join('?' * 7)})",
                                     [tuple(r) for r in rows])
            seconds = time.perf_counter() - started
            conn.exec_driver_sql("DROP TABLE bench_raw")
        return seconds

    def bare_copy_out(self, path: Path) -> float:
        with self.engine.begin() as conn, path.open("wb") as out:
            started = time.perf_counter()
            if self.pg:
                cursor = conn.connection.cursor()
                with cursor.copy("COPY (SELECT * FROM loans) TO STDOUT WITH (FORMAT csv)") as c:
                    for block in c:
                        out.write(block)
            else:
                for row in conn.exec_driver_sql("SELECT * FROM loans"):
                    out.write((",".join(map(str, row)) + "\n").encode())
            return time.perf_counter() - started

    # -- the figures
    def ordinary_day(self) -> dict[str, float]:
        baseline = self.bare_update()
        started = time.perf_counter()
        [run] = runner.run_dates(self.factory, daily.NAME, [ORDINARY_DAY])
        seconds = time.perf_counter() - started
        return _figure(seconds, baseline, loans=run.items, entries=run.entries)

    def due_day(self) -> dict[str, float]:
        baseline = self.bare_update()
        seconds, run = self.run_job_timed(DUE_DAY)
        return _figure(seconds, baseline, loans=run.items, entries=run.entries,
                       workers=self.workers)

    def repayment_application(self) -> dict[str, float]:
        """The nightly job after the file (not a target of performance.md): it
        records the file's payments as loan events and applies them, besides
        the date's own work."""
        baseline = self.bare_update()
        seconds, run = self.run_job_timed(FILE_DAY)
        return _figure(seconds, baseline, loans=run.items, entries=run.entries,
                       workers=self.workers)

    def repayment_file(self, lines: int, workdir: Path) -> dict[str, float] | None:
        try:
            from app.bankfiles.bench import upload_file, write_repayments
            from jobs import bankfiles
        except ImportError:
            return None
        with self.factory() as session:
            bank_id = session.scalar(sa.select(Loan.bank_id).limit(1))
            loans = [(c, id_number(int(c.removeprefix("BENCH-"))))
                     for c in session.scalars(sa.select(Loan.contract_no).order_by(Loan.id)
                                              .limit(lines))]
        path = workdir / "repayments.csv"
        write_repayments(path, lines=lines, loans=loans, post_every=1, value_date=FILE_DAY)
        baseline = _median_of(COPY_SAMPLES, lambda: self.bare_copy_in(path))
        clock.set_today(FILE_DAY)

        def upload() -> None:
            with session_scope(self.factory) as session:
                upload_file(session, bank_id, path)

        seconds, run = self.run_job_timed(FILE_DAY, bankfiles.NAME, before=upload)
        return _figure(seconds, baseline, lines=lines, chunks=run.chunks_total,
                       workers=self.workers)

    def default_list(self, workdir: Path) -> dict[str, float] | None:
        try:
            from app.defaults.exports import write_csv
            from app.defaults.service import default_list
        except ImportError:
            return None
        self.run_job(FILE_DAY)
        baseline = _median_of(COPY_SAMPLES, lambda: self.bare_copy_out(workdir / "loans.csv"))
        started = time.perf_counter()
        with self.factory() as session, (workdir / "defaults.csv").open("wb") as out:
            write_csv(default_list(session, OPERATOR, as_of=FILE_DAY), out)
        seconds = time.perf_counter() - started
        with (workdir / "defaults.csv").open("rb") as f:
            rows = sum(1 for _ in f) - 2  # header and totals
        return _figure(seconds, baseline, defaults=rows)

    def api_origination(self, *, clients: int, seconds: float, loans: int) -> dict[str, Any]:
        """At the portfolio's university and bank (built now or kept); the
        students numbered after the portfolio's borrowers."""
        from jobs.bench_api import measure

        with self.factory() as session:
            university, bank = session.execute(
                sa.select(Loan.university_id, Loan.bank_id).limit(1)).one()
        return measure(self.engine, {"university": university, "bank": bank}, clients=clients,
                       seconds=seconds, workers=self.workers, students_from=loans)


def _median_of(samples: int, measure: Callable[[], float]) -> float:
    """The median of ``samples`` timings: a bare ``COPY`` takes under a second
    here and one sample of it moves by a third between runs (0.69–1.03 s for
    the same file), a bare ``UPDATE`` of a million rows by as much (15–24 s),
    which would move their figures' ratios as much."""
    return statistics.median(measure() for _ in range(samples))


def _figure(seconds: float, baseline: float, **extra: Any) -> dict[str, Any]:
    return {"seconds": round(seconds, 3), "baseline_seconds": round(baseline, 3),
            "ratio": round(seconds / baseline, 3) if baseline else None, **extra}


@contextmanager
def bench_engine(database_url: str, *, keep: bool, schema: str | None = None
                 ) -> Iterator[Engine]:
    """A fresh, migrated database: a new schema on PostgreSQL, a new file on SQLite;
    or the PostgreSQL ``schema`` a ``--build-only`` run left (migrated to this code)."""
    url = make_url(database_url)
    if schema is not None and url.get_backend_name() != "postgresql":
        raise ValueError("--schema measures a portfolio kept on PostgreSQL")
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if path.exists():
            raise ValueError(f"{path} exists: the bench builds its own database")
        engine = make_engine(database_url)
        run_migrations(engine)
        yield engine
        engine.dispose()
        if not keep:
            path.unlink(missing_ok=True)
        return
    admin = make_engine(database_url)
    if schema is None:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = make_engine(url.update_query_dict(
        {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False))
    try:
        run_migrations(engine)
        yield engine
    finally:
        engine.dispose()
        if not keep:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def run_bench(*, loans: int, database_url: str, workers: int, repayment_lines: int,
              api_clients: int = 32, api_seconds: float = 15, keep: bool = False,
              build_only: bool = False, schema: str | None = None,
              log=print) -> dict[str, Any]:
    """Build (or, with ``schema``, take a kept portfolio) and measure.

    ``build_only`` keeps the built schema and measures nothing: building a
    million loans takes the better part of an hour, and a copy of the kept
    database (``CREATE DATABASE … TEMPLATE …``) can then be measured with
    ``schema`` as often as wanted.
    """
    clock.set_today(BUILT_THROUGH)
    with bench_engine(database_url, keep=keep or build_only, schema=schema) as engine, \
            tempfile.TemporaryDirectory() as tmp:
        bench = Bench(engine, workers=workers, log=log)
        where = {"machine": machine(), "database_server": database_server(engine)}
        if schema is None:
            log(f"building {loans} loans on {engine.url.get_backend_name()}...")
            build = bench.build(loans)
            log(f"built: import {build['import_seconds']:.1f} s, first servicing "
                f"{build['first_servicing_seconds']:.1f} s")
        else:
            build = {}
            with bench.factory() as session:
                loans = session.scalar(sa.select(sa.func.count()).select_from(Loan)) or 0
            log(f"measuring the {loans} loans kept in schema {schema}")
        if build_only:
            log(f"kept: {engine.url.query.get('options', '')}")
            clock.set_today(None)
            return {"loans": loans, "build": {k: round(v, 1) for k, v in build.items()},
                    "figures": {}, "peak_rss_mb": peak_rss_mb(), **where}
        figures: dict[str, Any] = {}
        clock.set_today(ORDINARY_DAY)
        bench.analyze()
        figures["ordinary_day"] = bench.ordinary_day()
        _print(log, "ordinary_day", figures["ordinary_day"])
        clock.set_today(DUE_DAY)
        bench.analyze()
        figures["due_day"] = bench.due_day()
        _print(log, "due_day", figures["due_day"])
        bench.analyze()
        figures["repayment_file"] = bench.repayment_file(min(repayment_lines, loans), Path(tmp))
        _print(log, "repayment_file", figures["repayment_file"])
        if figures["repayment_file"] is not None:
            bench.analyze()
            figures["repayment_application"] = bench.repayment_application()
            _print(log, "repayment_application", figures["repayment_application"])
        bench.analyze()
        figures["default_list"] = bench.default_list(Path(tmp))
        _print(log, "default_list", figures["default_list"])
        if api_seconds > 0:
            log(f"API: {api_clients} clients, {api_seconds:g} s each side...")
            figures["api_origination"] = bench.api_origination(
                clients=api_clients, seconds=api_seconds, loans=loans)
            _print(log, "api_origination", figures["api_origination"])
        else:
            log("api_origination: skipped (--api-seconds 0)")
    clock.set_today(None)
    peak = peak_rss_mb()
    log(f"peak_rss: {peak} MB (target ≤ {PEAK_RSS_TARGET_MB} MB: "
        f"{'met' if peak <= PEAK_RSS_TARGET_MB else 'NOT met'})")
    log(f"on: {json.dumps(where, ensure_ascii=False)}")
    return {"loans": loans, "database": make_url(database_url).get_backend_name(),
            "workers": workers, "build": {k: round(v, 1) for k, v in build.items()},
            "figures": {k: v for k, v in figures.items() if v is not None},
            "not_measured": [k for k, v in figures.items() if v is None],
            "peak_rss_mb": peak, **where}


# The server settings the README's figures depend on.
SERVER_SETTINGS = ("shared_buffers", "effective_cache_size", "work_mem", "maintenance_work_mem",
                   "max_wal_size", "checkpoint_timeout", "jit", "autovacuum", "synchronous_commit")


def machine() -> dict[str, Any]:
    """What the figures ran on: ratios are comparable on one machine only (a new
    machine moved the bare ``COPY`` from 0.69 to 0.43 s and the file only from
    14.5 to 10.3 s)."""
    model = platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo
                      if line.startswith("model name")), model)
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(
        os, "sysconf") else 0
    return {"cpu": model, "cores": os.cpu_count(), "memory_gb": round(memory / 2**30, 1),
            "python": platform.python_version()}


def database_server(engine: Engine) -> dict[str, Any]:
    """The database's version and, on PostgreSQL, ``SERVER_SETTINGS``."""
    with engine.connect() as conn:
        if engine.dialect.name != "postgresql":
            return {"version": f"SQLite {conn.exec_driver_sql('SELECT sqlite_version()').scalar()}"}
        # current_setting() gives what SHOW does (with units), all in one query
        names = ("server_version", *SERVER_SETTINGS)
        values = conn.execute(sa.select(*(sa.func.current_setting(n) for n in names))).one()
        return {"version": values[0], **dict(zip(SERVER_SETTINGS, values[1:], strict=True))}


def _print(log, name: str, figure: dict[str, Any] | None) -> None:
    """One line per figure: timed ones against their target (TARGETS; without a
    verdict when performance.md sets none), the API figure as rates."""
    if figure is None:
        log(f"{name}: not measured (module not installed)")
        return
    if "requests_per_second" in figure:
        log(f"{name}: {figure['requests_per_second']} requests/s (p50 {figure['p50_ms']} ms, "
            f"p99 {figure['p99_ms']} ms), bare INSERT endpoint "
            f"{figure['baseline_requests_per_second']} requests/s (p50 "
            f"{figure['baseline_p50_ms']} ms, p99 {figure['baseline_p99_ms']} ms), "
            f"ratio {figure['ratio']} (no target) [{_rest(figure, 'per_second', '_ms', 'ratio')}]")
        return
    ratio, target = figure["ratio"], TARGETS.get(name)
    verdict = "" if target is None else (
        f" (target ≤ {target}: "
        f"{'met' if ratio is not None and ratio <= target else 'NOT met'})")
    log(f"{name}: {figure['seconds']:.3f} s, baseline {figure['baseline_seconds']:.3f} s, "
        f"ratio {ratio}{verdict} [{_rest(figure, 'seconds', 'ratio')}]")


def _rest(figure: dict[str, Any], *shown: str) -> str:
    """The figure's other keys (those not ending in one of ``shown``)."""
    return ", ".join(f"{k} {v}" for k, v in figure.items() if not k.endswith(shown))


def write_json(summary: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
