"""The jobs the runner knows: each works on one business date, split in chunks.

A job is two functions of the business date: ``plan`` says which chunks
there are (id ranges; ``single`` for work that is not split) and ``run``
does one chunk inside the transaction the runner commits together with the
chunk's ``done`` mark.  Both must be safe to repeat (a retried chunk runs
again from the start of its transaction).  ``after`` names jobs whose run of
the same business date must be done first; ``applies`` says on which dates
the scheduler enqueues the job at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

SINGLE: list[tuple[int, int]] = [(0, 0)]


@dataclass(frozen=True)
class ChunkResult:
    items: int = 0  # what the chunk worked on: loans, lines, rows
    entries: int = 0  # ledger entries posted


def every_day(_day: dt.date) -> bool:
    return True


def single(_session: Session, _day: dt.date) -> list[tuple[int, int]]:
    return SINGLE


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    plan: Callable[[Session, dt.date], list[tuple[int, int]]]
    run: Callable[[Session, dt.date, int, int], ChunkResult]
    after: tuple[str, ...] = ()
    applies: Callable[[dt.date], bool] = every_day


JOBS: dict[str, Job] = {}


def register(job: Job) -> Job:
    JOBS[job.name] = job
    return job


def load_jobs() -> dict[str, Job]:
    """Every job, registered by importing the modules that define them."""
    import jobs.bankfiles  # noqa: F401
    import jobs.daily  # noqa: F401
    import jobs.modules  # noqa: F401

    return JOBS
