"""Working days on China's official calendar, make-up workdays included."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.audit.models import AuditRecord
from app.db import make_session_factory
from app.errors import InvalidInput
from app.reference.calendar import (
    WorkingCalendar,
    calendar_notice,
    known_through,
    library_covers,
)
from app.reference.models import CalendarYear, CenterLevel
from jobs.scheduler import trigger
from tests import factories
from tests.hardening.test_observability import _sample

D = dt.date
UNKNOWN_YEAR = 2099  # no library release will cover it while these tests live
# A notice for UNKNOWN_YEAR shaped like a real one: National Day 1-7 Oct off,
# Sunday 27 Sep and Saturday 10 Oct worked.
NOTICE = {"source": "国办发明电〔2098〕9号",
          "holidays": [f"2099-10-0{d}" for d in range(1, 8)],
          "workdays": ["2099-09-27", "2099-10-10"]}


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (D(2025, 1, 6), 0, D(2025, 1, 6)),
        (D(2025, 1, 6), 1, D(2025, 1, 7)),  # Monday -> Tuesday
        (D(2025, 1, 10), 1, D(2025, 1, 13)),  # Friday -> Monday
        # Spring Festival 2024: 10-17 Feb off; Sunday 4 Feb and Sunday 18 Feb are
        # make-up workdays.
        (D(2024, 2, 2), 1, D(2024, 2, 4)),  # Friday -> make-up Sunday
        (D(2024, 2, 8), 1, D(2024, 2, 9)),  # Thursday -> Friday (eve, worked in 2024)
        (D(2024, 2, 9), 1, D(2024, 2, 18)),  # over the holiday to the make-up Sunday
        (D(2024, 2, 9), 2, D(2024, 2, 19)),
        # National Day 2024: 1-7 Oct off, Sunday 29 Sep and Saturday 12 Oct worked.
        (D(2024, 9, 27), 1, D(2024, 9, 29)),
        (D(2024, 9, 30), 1, D(2024, 10, 8)),
        (D(2024, 10, 11), 1, D(2024, 10, 12)),  # Friday -> make-up Saturday
    ],
)
def test_add_working_days(db: Session, start: dt.date, n: int, expected: dt.date) -> None:
    assert WorkingCalendar(db).add_working_days(start, n) == expected


def test_holidays_and_make_up_days(db: Session) -> None:
    calendar = WorkingCalendar(db)
    assert not calendar.is_working_day(D(2024, 2, 12))  # Spring Festival
    assert calendar.is_working_day(D(2024, 2, 4))  # make-up Sunday
    assert not calendar.is_working_day(D(2024, 2, 3))  # ordinary Saturday


def test_year_outside_the_library_is_a_clear_error(db: Session) -> None:
    with pytest.raises(InvalidInput, match="2099"):
        WorkingCalendar(db).add_working_days(D(UNKNOWN_YEAR, 1, 1), 3)


def test_negative_count_is_refused(db: Session) -> None:
    with pytest.raises(ValueError):
        WorkingCalendar(db).add_working_days(D(2025, 1, 1), -1)


def test_api(client: TestClient, auth_headers) -> None:
    headers = auth_headers("admin")
    response = client.get("/v1/calendar/working-days?start=2024-02-09&days=2", headers=headers)
    assert response.json() == {"start": "2024-02-09", "working_days": 2, "date": "2024-02-19"}
    response = client.get("/v1/calendar/working-days?start=2099-01-01&days=2", headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"


def _national_staff(db: Session, auth_headers) -> dict[str, str]:
    return auth_headers("center_staff", factories.make_center(db, level=CenterLevel.national))


def test_national_center_publishes_a_year_the_library_lacks(
        client: TestClient, db: Session, auth_headers) -> None:
    headers = _national_staff(db, auth_headers)
    response = client.put(f"/v1/calendar/years/{UNKNOWN_YEAR}", json=NOTICE, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["year"], body["source"], body["workdays"]) == (
        UNKNOWN_YEAR, NOTICE["source"], ["2099-09-27", "2099-10-10"])
    assert body["holidays"] == NOTICE["holidays"]
    days = lambda start, n: client.get(  # noqa: E731
        f"/v1/calendar/working-days?start={start}&days={n}", headers=headers).json()["date"]
    assert days("2099-09-25", 1) == "2099-09-27"  # Friday -> make-up Sunday
    assert days("2099-09-30", 1) == "2099-10-08"  # over National Day
    assert days("2099-10-09", 1) == "2099-10-10"  # Friday -> make-up Saturday
    assert days("2099-10-10", 1) == "2099-10-12"  # an ordinary weekend after it
    assert [r.action for r in db.scalars(sa.select(AuditRecord).where(
        AuditRecord.entity_type == "calendar_years"))] == ["calendar.publish"]
    listed = client.get("/v1/calendar/years", headers=headers).json()
    assert [y["year"] for y in listed] == [UNKNOWN_YEAR]


def test_publishing_again_corrects_the_year(
        client: TestClient, db: Session, auth_headers) -> None:
    headers = _national_staff(db, auth_headers)
    client.put(f"/v1/calendar/years/{UNKNOWN_YEAR}", json=NOTICE, headers=headers)
    corrected = NOTICE | {"holidays": NOTICE["holidays"][:3]}
    response = client.put(f"/v1/calendar/years/{UNKNOWN_YEAR}", json=corrected, headers=headers)
    assert response.status_code == 200
    assert db.get(CalendarYear, UNKNOWN_YEAR).holidays == NOTICE["holidays"][:3]
    assert WorkingCalendar(db).is_working_day(D(UNKNOWN_YEAR, 10, 5))  # a Monday again
    audits = db.scalars(sa.select(AuditRecord).where(
        AuditRecord.entity_type == "calendar_years").order_by(AuditRecord.id)).all()
    assert len(audits[-1].before["holidays"]) == 7 and len(audits[-1].after["holidays"]) == 3


@pytest.mark.parametrize(("change", "status", "code", "field"), [
    ({"holidays": ["2098-12-31"]}, 422, "invalid_input", "holidays[0]"),
    ({"workdays": ["2099-10-05"]}, 422, "invalid_input", "workdays[0]"),  # a Monday
    ({"workdays": ["2099-10-03"], "holidays": ["2099-10-03"]}, 422, "invalid_input", "workdays"),
    ({"source": ""}, 422, "validation_error", None),
])
def test_a_wrong_notice_is_refused_and_changes_nothing(
        client: TestClient, db: Session, auth_headers, change, status, code, field) -> None:
    headers = _national_staff(db, auth_headers)
    response = client.put(f"/v1/calendar/years/{UNKNOWN_YEAR}", json=NOTICE | change,
                          headers=headers)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    if field:
        assert error["field"] == field
    assert db.get(CalendarYear, UNKNOWN_YEAR) is None


def test_only_the_national_center_publishes(
        client: TestClient, db: Session, auth_headers) -> None:
    url = f"/v1/calendar/years/{UNKNOWN_YEAR}"
    provincial = auth_headers("center_staff", factories.make_center(db))
    assert client.put(url, json=NOTICE, headers=provincial).status_code == 403
    bank = auth_headers("bank_operator", factories.make_bank(db))
    assert client.put(url, json=NOTICE, headers=bank).status_code == 403
    assert client.put("/v1/calendar/years/2024", json=NOTICE | {
        "holidays": ["2024-10-01"], "workdays": []},
        headers=_national_staff(db, auth_headers)).json()["error"]["code"] == "calendar_known"
    assert db.get(CalendarYear, UNKNOWN_YEAR) is None


def _first_year_the_library_lacks() -> int:
    year = 2024
    while library_covers(year):
        year += 1
    return year


def test_the_end_of_the_known_calendar_is_warned_of_and_measured(
        client: TestClient, db: Session, auth_headers, set_today, caplog) -> None:
    """Within 60 days of the last known day, the scheduler warns (a batch deadline
    of 20 working days is refused past it) and /metrics shows the days left; a
    published year moves the end on."""
    year = _first_year_the_library_lacks()
    today = D(year - 1, 11, 26)
    set_today(today)
    assert known_through(db, today) == D(year - 1, 12, 31)
    assert calendar_notice(db, D(year - 1, 10, 1)) is None  # 91 days ahead
    notice = calendar_notice(db, today)
    assert f"known through {year - 1}-12-31" in notice
    assert f"PUT /v1/calendar/years/{year}" in notice
    with caplog.at_level(logging.WARNING, logger="loans.scheduler"):
        trigger(make_session_factory(db.connection(),
                                     join_transaction_mode="create_savepoint"))
    assert [r.getMessage() for r in caplog.records if r.name == "loans.scheduler"] == [notice]
    metrics_body = client.get("/metrics").text
    assert _sample(metrics_body, "loans_calendar_known_days_ahead") == 35

    headers = _national_staff(db, auth_headers)
    response = client.put(f"/v1/calendar/years/{year}", headers=headers, json={
        "source": "国办发明电", "holidays": [f"{year}-10-01"], "workdays": []})
    assert response.status_code == 200, response.text
    assert known_through(db, today) == D(year, 12, 31)
    assert calendar_notice(db, today) is None
    assert _sample(client.get("/metrics").text, "loans_calendar_known_days_ahead") == (
        D(year, 12, 31) - today).days  # 400, or 401 when that year is a leap year
