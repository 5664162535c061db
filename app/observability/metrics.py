"""Prometheus metrics, served at ``/metrics``.

* ``loans_http_request_duration_seconds{method,route,status}``: every request,
  labelled by its route template (``/v1/loans/{loan_id}``), never the raw path;
* ``loans_job_runs_total{job,outcome}``, ``loans_job_duration_seconds{job}``,
  ``loans_job_last_success_timestamp_seconds{job}``: through ``observe_job``,
  which the job runner calls around each unit of work (one chunk of one
  business date's run);
* ``loans_bank_file_uploads_total{format,outcome}``: through ``record_upload``;
* gauges read from the database at scrape time (``db_gauge``), for example the
  open exceptions of the bank-file queue.

Counters and histograms live in the process (one set per server process; a
deployment scrapes each process).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from app.observability import context

log = logging.getLogger(__name__)

REQUEST_DURATION = Histogram(
    "loans_http_request_duration_seconds",
    "HTTP request latency by route template and status.",
    ["method", "route", "status"],
)
JOB_RUNS = Counter(
    "loans_job_runs_total", "Job work units (chunks) by job and outcome (success, failure).",
    ["job", "outcome"]
)
JOB_DURATION = Histogram(
    "loans_job_duration_seconds",
    "Duration of one unit of job work (a chunk of one business date).",
    ["job"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, float("inf")),
)
JOB_LAST_SUCCESS = Gauge(
    "loans_job_last_success_timestamp_seconds", "When the job last succeeded.", ["job"]
)
UPLOADS = Counter(
    "loans_bank_file_uploads_total",
    "Bank file uploads by format and outcome (e.g. processed, duplicate, rejected).",
    ["format", "outcome"],
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUEST_DURATION.labels(method, route, str(status)).observe(seconds)


@contextmanager
def observe_job(job: str, business_date: str) -> Iterator[None]:
    """Around a unit of ``job``'s work for ``business_date``: counts it, times it, and
    names the job and date (and a request id, a new one unless the run was
    started by a request) in every log line written meanwhile."""
    request_id = context.request_id_var.get() or context.new_request_id()
    with context.bound(request_id=request_id, job=job, business_date=business_date):
        started = time.perf_counter()
        log.info("job started")
        try:
            yield
        except BaseException:
            JOB_RUNS.labels(job, "failure").inc()
            log.exception("job failed")
            raise
        finally:
            seconds = time.perf_counter() - started
            JOB_DURATION.labels(job).observe(seconds)
        JOB_RUNS.labels(job, "success").inc()
        JOB_LAST_SUCCESS.labels(job).set_to_current_time()
        log.info("job finished", extra={"duration_s": round(seconds, 3)})


def record_upload(*, file_format: str, outcome: str) -> None:
    UPLOADS.labels(file_format, outcome).inc()


# -- gauges read from the database at scrape time ----------------------------

DbGaugeReader = Callable[[Session], int]  # counts
_DB_GAUGES: dict[str, tuple[str, DbGaugeReader]] = {}


def db_gauge(name: str, documentation: str) -> Callable[[DbGaugeReader], DbGaugeReader]:
    """Register ``reader(session) -> value`` as the gauge ``name``, read on each
    scrape (``@db_gauge("loans_bank_file_exceptions_open", "...")``)."""

    def register(reader: DbGaugeReader) -> DbGaugeReader:
        _DB_GAUGES[name] = (documentation, reader)
        return reader

    return register


class _DbGauges(Collector):
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.session_factory() as session:
            for name, (documentation, reader) in sorted(_DB_GAUGES.items()):
                yield GaugeMetricFamily(name, documentation, value=reader(session))


def render(session_factory: sessionmaker[Session]) -> bytes:
    """The exposition text: the process's metrics, then the database gauges."""
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_DbGauges(session_factory))
    return generate_latest() + generate_latest(scrape)
