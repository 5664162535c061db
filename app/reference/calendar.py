"""China's official working-day calendar (holidays and make-up workdays, 调休),
from the maintained ``chinesecalendar`` library; no hand-written table."""

from __future__ import annotations

import datetime as dt

import chinese_calendar

from app.errors import InvalidInput


def is_working_day(day: dt.date) -> bool:
    """A working day on the official calendar: a weekday that is not a public
    holiday, or a weekend day declared a make-up workday.

    Raises ``InvalidInput`` (field ``date``) for a year the library does not cover.
    """
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as exc:
        raise InvalidInput(
            f"the official working-day calendar for {day.year} is not known: {exc}",
            "date",
        ) from None


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The ``n``-th working day after ``start`` (``start`` itself not counted).

    ``add_working_days(d, 0)`` is ``d``.  A deadline "within N working days of
    submission" is ``add_working_days(submitted_on, N)``.
    """
    if n < 0:
        raise ValueError("n must not be negative")
    day = start
    remaining = n
    while remaining:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day
