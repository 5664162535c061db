"""The business date.  The only place that reads the wall clock.

Jobs and money rules take their business date as an argument; API handlers
that need "today" (e.g. to refuse a future value date) ask this module, and
tests replace it with ``set_today``.
"""

from __future__ import annotations

import datetime as dt

CST = dt.timezone(dt.timedelta(hours=8))  # China Standard Time, the business dates' zone
_override: dt.date | None = None


def today() -> dt.date:
    """Today's business date in China Standard Time (UTC+8)."""
    if _override is not None:
        return _override
    return dt.datetime.now(CST).date()


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def start_of(day: dt.date) -> dt.datetime:
    """The first instant of business date ``day`` (midnight in China)."""
    return dt.datetime.combine(day, dt.time(), CST)


def set_today(value: dt.date | None) -> None:
    """Pin the business date (tests, demo); ``None`` returns to the real clock."""
    global _override
    _override = value
