"""Calendar arithmetic of the money rules (servicing-rules.md §3–4)."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator

MONTHS = {"monthly": tuple(range(1, 13)), "quarterly": (3, 6, 9, 12), "annual": (12,)}
MONTHS_PER_PERIOD = {"monthly": 1, "quarterly": 3, "annual": 12}


def add_months(day: dt.date, months: int) -> dt.date:
    """Move the calendar month, keep the day, clamp to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def frequency_dates(
    frequency: str, day_of_month: int, after: dt.date, until: dt.date
) -> Iterator[dt.date]:
    """Dates on ``day_of_month`` of the frequency's months, in ``(after, until]``."""
    months = MONTHS[frequency]
    year, month = after.year, after.month
    while True:
        if month in months:
            candidate = dt.date(year, month, day_of_month)
            if candidate > until:
                return
            if candidate > after:
                yield candidate
        month += 1
        if month == 13:
            year, month = year + 1, 1


def next_frequency_date(frequency: str, day_of_month: int, after: dt.date) -> dt.date:
    """The first frequency date strictly after ``after``."""
    return next(frequency_dates(frequency, day_of_month, after, dt.date.max))


def is_frequency_date(frequency: str, day_of_month: int, day: dt.date) -> bool:
    return day.day == day_of_month and day.month in MONTHS[frequency]
