"""Working days on China's official calendar, make-up workdays included."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from app.errors import InvalidInput
from app.reference.calendar import add_working_days, is_working_day

D = dt.date


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
def test_add_working_days(start: dt.date, n: int, expected: dt.date) -> None:
    assert add_working_days(start, n) == expected


def test_holidays_and_make_up_days() -> None:
    assert not is_working_day(D(2024, 2, 12))  # Spring Festival
    assert is_working_day(D(2024, 2, 4))  # make-up Sunday
    assert not is_working_day(D(2024, 2, 3))  # ordinary Saturday


def test_year_outside_the_library_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="2099"):
        add_working_days(D(2099, 1, 1), 3)


def test_negative_count_is_refused() -> None:
    with pytest.raises(ValueError):
        add_working_days(D(2025, 1, 1), -1)


def test_api(client: TestClient, auth_headers) -> None:
    headers = auth_headers("admin")
    response = client.get("/v1/calendar/working-days?start=2024-02-09&days=2", headers=headers)
    assert response.json() == {"start": "2024-02-09", "working_days": 2, "date": "2024-02-19"}
    response = client.get("/v1/calendar/working-days?start=2099-01-01&days=2", headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"
