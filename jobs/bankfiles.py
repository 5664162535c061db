"""The bank files job: post the uploaded files' lines, a chunk of lines at a time.

Planning checks each upload not yet checked (``check_upload``: rejected, or
cut into chunks of lines) and gives the job one chunk (``lo = hi``, the
chunk's id in ``bank_upload_chunks``) for each chunk of an unfinished
upload not yet done.  Each runs in the runner's transaction, so its lines
are posted together with the chunk's ``done`` mark, and any number of
workers post one file's chunks at once: a plain file's chunks, in any
order, unless they name a transaction in common (then each waits for the
ones before it being posted); any other file is one chunk.  A worker
killed part-way leaves its chunk to be done again;
``(bank_id, txn_key)`` being unique, nothing can post a bank transaction
twice.  An upload arriving after the date's run was planned waits for the
next date's run (or ``loans bankfiles process``).  Daily servicing runs
``after`` this job, so the day's repayments are in before bills fall due.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from app.bankfiles.processing import check_upload, pending_chunks, post_chunk, unfinished_uploads
from jobs.registry import ChunkResult, Job, register

NAME = "bank_files"


def plan(session: Session, day: dt.date) -> list[tuple[int, int]]:
    uploads = unfinished_uploads(session)
    for upload_id in uploads:
        check_upload(session, upload_id)
    return [(chunk_id, chunk_id) for chunk_id in pending_chunks(session, uploads)]


def run(session: Session, day: dt.date, lo: int, hi: int) -> ChunkResult:
    return ChunkResult(items=post_chunk(session, lo, business_date=day))


register(Job(NAME, "post the uploaded bank files' lines (repayments, reversals, disbursements)",
             plan, run))
