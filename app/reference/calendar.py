"""China's official working-day calendar (holidays and make-up workdays, 调休).

The maintained ``chinesecalendar`` library holds every year it has been
released with; no hand-written table.  The State Council publishes the next
year's holidays each autumn, usually before the library does, so the national
center can publish a year the library does not cover yet from the notice
(``publish_year``; ``calendar_years``).  A year neither knows is refused: a
deadline is never guessed.
"""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import clock
from app.audit.service import record, snapshot
from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import require_role
from app.clock import now_utc
from app.errors import Conflict, Forbidden, InvalidInput
from app.observability import metrics
from app.reference.models import CalendarYear, Center, CenterLevel

SATURDAY = 5
# Warned of this many days before the known calendar ends: a deadline of 20
# working days reaches four weeks ahead and more (Spring Festival, National Day).
NOTICE_DAYS = 60


def library_covers(year: int) -> bool:
    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


class WorkingCalendar:
    """The official calendar as this database knows it: the library's years,
    then the years the center published (read once per calendar object)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._published: dict[int, tuple[frozenset[dt.date], frozenset[dt.date]] | None] = {}

    def is_working_day(self, day: dt.date) -> bool:
        """A weekday that is not a public holiday, or a weekend day declared a
        make-up workday.  ``InvalidInput`` (field ``date``) for an unknown year."""
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            pass
        published = self._year(day.year)
        if published is None:
            raise InvalidInput(
                f"the official working-day calendar for {day.year} is not known: the library "
                "covers it not yet and the center has not published it", "date")
        holidays, workdays = published
        return day in workdays or (day.weekday() < SATURDAY and day not in holidays)

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``start`` (``start`` itself not counted).

        ``add_working_days(d, 0)`` is ``d``.  A deadline "within N working days
        of submission" is ``add_working_days(submitted_on, N)``.
        """
        if n < 0:
            raise ValueError("n must not be negative")
        day = start
        remaining = n
        while remaining:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def knows(self, year: int) -> bool:
        return library_covers(year) or self._year(year) is not None

    def _year(self, year: int) -> tuple[frozenset[dt.date], frozenset[dt.date]] | None:
        if year not in self._published:
            row = self.session.get(CalendarYear, year)
            self._published[year] = None if row is None else (
                frozenset(map(dt.date.fromisoformat, row.holidays)),
                frozenset(map(dt.date.fromisoformat, row.workdays)))
        return self._published[year]


def known_through(session: Session, today: dt.date) -> dt.date:
    """The last day of the official calendar known year after year from ``today``'s
    year on (the library's years, then those the center published): the eve of
    ``today``'s year when even that one is unknown."""
    calendar = WorkingCalendar(session)
    year = today.year
    while calendar.knows(year):
        year += 1
    return dt.date(year - 1, 12, 31)


def calendar_notice(session: Session, today: dt.date) -> str | None:
    """What to warn of when the known calendar ends within ``NOTICE_DAYS``: from
    then on a deadline past its end is refused (a batch submission is, say)."""
    known = known_through(session, today)
    if (known - today).days >= NOTICE_DAYS:
        return None
    year = known.year + 1
    return (f"the official working-day calendar is known through {known} only: deadlines "
            f"after it are refused until {year} is published from the State Council's notice "
            f"(PUT /v1/calendar/years/{year}) or comes with a chinesecalendar release")


@metrics.db_gauge("loans_calendar_known_days_ahead",
                  "Days from today through the last day of the official working-day calendar "
                  "known (library or published); deadlines past it are refused.")
def _known_days_ahead(session: Session) -> int:
    today = clock.today()
    return (known_through(session, today) - today).days


def _check_days(year: int, holidays: list[dt.date], workdays: list[dt.date]) -> None:
    for field, days in (("holidays", holidays), ("workdays", workdays)):
        for i, day in enumerate(days):
            if day.year != year:
                raise InvalidInput(f"{day} is not in {year}", f"{field}[{i}]")
            if field == "workdays" and day.weekday() < SATURDAY:
                raise InvalidInput(f"{day} is a weekday: a make-up workday is a Saturday or "
                                   "Sunday", f"{field}[{i}]")
    both = sorted(set(holidays) & set(workdays))
    if both:
        raise InvalidInput(f"{both[0]} is listed as a holiday and as a workday", "workdays")


def publish_year(
    session: Session, principal: Principal, *, year: int, source: str,
    holidays: list[dt.date], workdays: list[dt.date],
) -> CalendarYear:
    """Publish (or correct) ``year`` from the State Council's notice: admin or the
    national center's staff only; audited; refused for a year the library covers."""
    require_role(principal, Role.center_staff)
    if principal.role == Role.center_staff and session.scalar(
            sa.select(Center.level).where(Center.id == principal.center_id)
    ) != CenterLevel.national:
        raise Forbidden("only the national center publishes the working-day calendar")
    if library_covers(year):
        raise Conflict(f"the calendar of {year} comes from the chinesecalendar library",
                       code="calendar_known")
    _check_days(year, holidays, workdays)
    row = session.get(CalendarYear, year)
    before = None if row is None else snapshot(row)
    if row is None:
        row = CalendarYear(year=year)
        session.add(row)
    row.source, row.published_by, row.published_at = source, principal.user_name, now_utc()
    row.holidays = [d.isoformat() for d in sorted(set(holidays))]
    row.workdays = [d.isoformat() for d in sorted(set(workdays))]
    session.flush()
    record(session, principal, "calendar.publish", row, before, snapshot(row))
    return row
