from __future__ import annotations

import datetime as dt

from app.schemas_common import ResponseModel


class JobOut(ResponseModel):
    name: str
    description: str
    after: list[str]


class JobRunOut(ResponseModel):
    id: int
    job: str
    business_date: dt.date
    status: str
    attempts: int
    chunks_total: int
    chunks_done: int
    items: int
    entries: int
    seconds: float
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class JobChunkOut(ResponseModel):
    seq: int
    lo: int
    hi: int
    status: str
    attempts: int
    items: int
    entries: int
    seconds: float
    worker: str | None
    error: str | None


class JobRunDetail(JobRunOut):
    chunks: list[JobChunkOut]
