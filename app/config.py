"""Settings: the only reader of the environment (variables prefixed ``LOANS_``)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.policy import policies

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOANS_", extra="ignore")

    # Embedded SQLite under var/ of the repository by default;
    # ``postgresql+psycopg://user@host:5432/db`` switches to PostgreSQL.
    database_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'loans.db'}"
    # Set to run the test suite on PostgreSQL as well (``make test``).
    test_database_url: str | None = None
    # Log SQL statements.
    echo_sql: bool = False
    # Connections per server process (PostgreSQL): pool and overflow.  At most
    # as many requests are in progress at once (more wait for their turn), so a
    # request never waits for a connection that another request holds while it
    # waits for a worker thread.
    db_pool_size: int = 10
    db_max_overflow: int = 10
    # Policy version code -> first signing date of contracts under it (a contract
    # keeps the version in force on its signing date).  NSL-2015/NSL-2020 files
    # exist; schedule them here (or in LOANS_POLICY_SCHEDULE as JSON) to use them.
    policy_schedule: dict[str, dt.date] = {
        "NSL-1999": dt.date(1999, 6, 1),
        "NSL-2004": dt.date(2004, 9, 1),
    }
    # Loans per chunk of the nightly job (one chunk = one transaction of a worker).
    jobs_chunk_size: int = 5000
    # Lines of a bank file per chunk of its processing (one transaction each).
    bankfile_chunk_lines: int = 50_000
    # Days a stored Idempotency-Key response is kept: a retry within them
    # replays the first response; the nightly ``idempotency_keys`` job deletes
    # older keys (a retry after that is a new request).
    idempotency_key_days: int = Field(30, ge=1)
    # Start the job scheduler (and an in-process worker) inside the API
    # process: the single-machine default of ``make run``.
    run_scheduler: bool = False
    # Mount the bare endpoint of ``loans bench``'s API figure (jobs/bench_route.py):
    # the bench sets it on the server it starts; never in production.
    bench_routes: bool = False

    # Logs: one JSON object per line on stderr ("text" for humans at a terminal).
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"

    # Request bodies: JSON requests up to ``max_body_bytes``; file uploads (any
    # other content type, e.g. multipart/form-data, text/csv) up to
    # ``max_upload_bytes``.  Larger ones answer 413 before the body is read.
    max_body_bytes: int = 1024 * 1024
    max_upload_bytes: int = 20 * 1024 * 1024

    # Rate limits per API key (token buckets, per server process): writes
    # (POST/PUT/PATCH/DELETE) and uploads, in requests per minute with a burst
    # allowance.  0 per minute turns a limit off.
    rate_limit_writes_per_minute: int = 600
    rate_limit_writes_burst: int = 120
    rate_limit_uploads_per_minute: int = 20
    rate_limit_uploads_burst: int = 10

    # Personal data at rest (app.privacy): Fernet keys (bulk bytes are sealed
    # under AES-256-GCM keys derived from them), comma-separated, the
    # first encrypts and all decrypt (rotation: put the new key first, run
    # ``loans admin rotate-data-key``, then drop the old one); and the HMAC key
    # of the ID numbers' lookup hash.  Unset: fixed development keys, with a
    # warning -- never in production.
    data_encryption_keys: str | None = None
    data_hash_key: str | None = None

    @field_validator("policy_schedule")
    @classmethod
    def _scheduled_versions_exist(cls, schedule: dict[str, dt.date]) -> dict[str, dt.date]:
        """Start-up fails on a schedule naming a version with no (valid) file."""
        unknown = sorted(set(schedule) - set(policies()))
        if unknown:
            raise ValueError(f"no policy version file for {', '.join(unknown)}")
        if not schedule:
            raise ValueError("at least one policy version must be scheduled")
        return schedule


@lru_cache
def get_settings() -> Settings:
    return Settings()
