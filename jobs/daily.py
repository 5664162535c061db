"""Daily servicing for a business date: bills, subsidy claims and their postings.

Accrual is derived (the engine's exact accumulators, saved per loan), never
a row per loan per day; this job posts only what falls due on the date, for
the loans whose next action date has come or that new events made dirty
(``app.servicing.batch``), and for those with bank file lines waiting to be
applied: a chunk first records those lines' loan events
(``app.bankfiles.application``), then services its loans, so a file's
payments are applied the night after it was processed.  Chunks are id
ranges of exactly those loans, so an ordinary day has no chunk at all.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from app.bankfiles.application import apply_pending, pending_loans
from app.config import get_settings
from app.servicing.batch import due_ranges, service_range
from jobs.registry import ChunkResult, Job, register

NAME = "daily_servicing"


def plan(session: Session, day: dt.date) -> list[tuple[int, int]]:
    return due_ranges(session, through=day, size=get_settings().jobs_chunk_size,
                      also=pending_loans(day))


def run(session: Session, day: dt.date, lo: int, hi: int) -> ChunkResult:
    applied = apply_pending(session, lo=lo, hi=hi, through=day, recorded_by=f"job:{NAME}",
                            mark_dirty=False)
    result = service_range(session, lo=lo, hi=hi, through=day, posted_by=f"job:{NAME}",
                           dirty=applied)
    return ChunkResult(items=result.loans, entries=result.entries)


register(Job(NAME, "bills, subsidy claims and their ledger postings for the date",
             plan, run, after=("bank_files",)))
