"""Job runs (one per job and business date) and the chunks workers claim.

A run is created once per ``(job, business_date)`` (unique), planned once
into chunks (loan id ranges, or a single chunk for a job that is not split),
and done when every chunk is.  A chunk's work and its ``done`` mark commit in
one transaction, so a worker killed part-way leaves its chunk pending for
the next worker, and nothing half-done.
"""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import ID_TYPE, Base, CreatedAt, IdPk, UTCDateTime, enum_type


class RunStatus(enum.StrEnum):
    pending = "pending"  # enqueued, not yet split into chunks
    running = "running"  # chunks exist; some not done
    done = "done"
    failed = "failed"  # a chunk failed; retry resumes with the chunks not done


class ChunkStatus(enum.StrEnum):
    pending = "pending"
    done = "done"
    failed = "failed"


class JobRun(Base):
    __tablename__ = "job_runs"
    __table_args__ = (sa.UniqueConstraint("job", "business_date"),)

    id: Mapped[IdPk]
    job: Mapped[str] = mapped_column(sa.String(40))
    business_date: Mapped[dt.date] = mapped_column(sa.Date)
    status: Mapped[RunStatus] = mapped_column(
        enum_type(RunStatus, "job_run_status"), default=RunStatus.pending, index=True
    )
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    chunks_total: Mapped[int] = mapped_column(sa.Integer, default=0)
    chunks_done: Mapped[int] = mapped_column(sa.Integer, default=0)
    items: Mapped[int] = mapped_column(sa.Integer, default=0)  # loans, lines, rows...
    entries: Mapped[int] = mapped_column(sa.Integer, default=0)  # ledger entries posted
    seconds: Mapped[float] = mapped_column(sa.Float, default=0.0)  # summed chunk work time
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[CreatedAt]
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class JobChunk(Base):
    __tablename__ = "job_chunks"
    __table_args__ = (sa.Index("ix_job_chunks_run_id_status", "run_id", "status"),)

    id: Mapped[IdPk]
    run_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("job_runs.id"))
    seq: Mapped[int] = mapped_column(sa.Integer)
    lo: Mapped[int] = mapped_column(ID_TYPE)  # first id of the range (inclusive)
    hi: Mapped[int] = mapped_column(ID_TYPE)  # last id of the range (inclusive)
    status: Mapped[ChunkStatus] = mapped_column(
        enum_type(ChunkStatus, "job_chunk_status"), default=ChunkStatus.pending
    )
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    items: Mapped[int] = mapped_column(sa.Integer, default=0)
    entries: Mapped[int] = mapped_column(sa.Integer, default=0)
    seconds: Mapped[float] = mapped_column(sa.Float, default=0.0)
    worker: Mapped[str | None] = mapped_column(sa.String(80))
    error: Mapped[str | None] = mapped_column(sa.Text)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
