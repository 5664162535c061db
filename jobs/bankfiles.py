"""The bank files job: process every uploaded file not yet finished.

One chunk per upload (``lo = hi = upload id``).  The chunk's work runs in
the runner's transaction (a session joined to its connection; the loans of
the next lines are looked up ahead on other connections of the engine), so
an upload is posted together with the chunk's ``done`` mark: a worker killed
part-way leaves nothing of that upload committed, and the chunk is done
again.  The command ``loans bankfiles process`` instead commits the file
chunk by chunk and resumes after a kill; both rely on ``(bank_id, txn_key)``
being unique, so neither can post a transaction twice.  Daily servicing runs
``after`` this job, so the day's repayments are in before bills fall due.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.bankfiles.models import BankLine, BankUpload, UploadStatus
from app.bankfiles.processing import process_upload
from app.db import make_session_factory
from jobs.registry import ChunkResult, Job, register

NAME = "bank_files"


def plan(session: Session, day: dt.date) -> list[tuple[int, int]]:
    ids = session.scalars(sa.select(BankUpload.id).where(
        BankUpload.status.in_([UploadStatus.pending, UploadStatus.processing]))
        .order_by(BankUpload.id))
    return [(upload_id, upload_id) for upload_id in ids]


def run(session: Session, day: dt.date, lo: int, hi: int) -> ChunkResult:
    joined = make_session_factory(session.connection())  # never commits the runner's work
    # The loans are looked up ahead through the runner's own bind: an engine in
    # production (other connections, the same committed loans), a test's
    # connection otherwise (looked up in turn).
    process_upload(joined, lo, business_date=day, reads=session.get_bind())
    lines = session.scalar(sa.select(sa.func.count()).select_from(BankLine)
                           .where(BankLine.upload_id == lo))
    return ChunkResult(items=lines or 0)


register(Job(NAME, "post the uploaded bank files' lines (repayments, reversals, disbursements)",
             plan, run))
