"""Invalid input answers 4xx in the one error shape and changes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Base
from tests.world import World, build_world

AGREEMENT = {
    "center_id": "{cA}", "bank_id": "{bA}", "valid_from": "2025-01-01", "valid_to": "2025-12-31",
    "approval_deadline_working_days": 10, "risk_compensation_rate": "0.125000",
    "subsidy_settlement": "monthly", "rate_rule": "LPR",
}
ENROLMENT = {"academic_year": "2025-2026", "category": "graduate", "full_time": True, "count": 5}
UNIVERSITY = {"name": "New U", "code": "NU1", "center_id": "{cA}"}


def _agreement(**changes: object) -> dict:
    return AGREEMENT | changes


# (method, path, body, status, code, field); "{cA}" style ids are filled in.
CASES = [
    # unknown fields
    ("POST", "/v1/banks", {"name": "X", "code": "X", "swift": "ICBKCNBJ"},
     422, "validation_error", "swift"),
    ("PATCH", "/v1/universities/{uA}", {"staff_count": 1, "center": 3},
     422, "validation_error", "center"),
    ("PATCH", "/v1/agreements/{agA}", {"bank_id": "{bB}"}, 422, "validation_error", "bank_id"),
    ("POST", "/v1/universities/{uA}/enrolment", ENROLMENT | {"note": "x"},
     422, "validation_error", "note"),
    # wrong types
    ("POST", "/v1/universities/{uA}/enrolment", ENROLMENT | {"count": "many"},
     422, "validation_error", "count"),
    ("POST", "/v1/universities/{uA}/enrolment", ENROLMENT | {"full_time": "sometimes"},
     422, "validation_error", "full_time"),
    ("POST", "/v1/universities", UNIVERSITY | {"staff_count": [1]},
     422, "validation_error", "staff_count"),
    ("POST", "/v1/agreements", _agreement(risk_compensation_rate=0.125),
     422, "validation_error", "risk_compensation_rate"),
    ("POST", "/v1/agreements", _agreement(risk_compensation_rate="0.1234567"),
     422, "validation_error", "risk_compensation_rate"),
    ("POST", "/v1/agreements", _agreement(risk_compensation_rate="1.5"),
     422, "validation_error", "risk_compensation_rate"),
    ("POST", "/v1/agreements", _agreement(subsidy_settlement="weekly"),
     422, "validation_error", "subsidy_settlement"),
    ("POST", "/v1/centers", {"name": "C", "level": "municipal"}, 422, "validation_error", "level"),
    ("POST", "/v1/centers", {"name": "C", "level": "provincial"}, 422, "validation_error", None),
    ("PATCH", "/v1/universities/{uA}", {"name": None}, 422, "validation_error", "name"),
    ("POST", "/v1/banks", [1, 2], 422, "validation_error", None),
    # negative counts
    ("POST", "/v1/universities/{uA}/enrolment", ENROLMENT | {"count": -1},
     422, "validation_error", "count"),
    ("PATCH", "/v1/enrolment/{eA}", {"count": -5}, 422, "validation_error", "count"),
    ("PATCH", "/v1/universities/{uA}", {"staff_count": -1}, 422, "validation_error",
     "staff_count"),
    ("POST", "/v1/agreements", _agreement(approval_deadline_working_days=0),
     422, "validation_error", "approval_deadline_working_days"),
    # malformed dates and years
    ("POST", "/v1/agreements", _agreement(valid_from="2025-02-30"),
     422, "validation_error", "valid_from"),
    ("POST", "/v1/agreements", _agreement(valid_to="31/12/2025"),
     422, "validation_error", "valid_to"),
    ("PATCH", "/v1/agreements/{agA}", {"valid_from": "yesterday"},
     422, "validation_error", "valid_from"),
    ("POST", "/v1/universities/{uA}/enrolment", ENROLMENT | {"academic_year": "2025-2027"},
     422, "validation_error", "academic_year"),
    ("POST", "/v1/agreements", _agreement(valid_from="2026-01-01", valid_to="2025-12-31"),
     422, "invalid_input", "valid_to"),
    ("PATCH", "/v1/agreements/{agA}", {"valid_to": "2020-01-01"}, 422, "invalid_input",
     "valid_to"),
    ("GET", "/v1/calendar/working-days?start=2025-13-01&days=3", None,
     422, "validation_error", "start"),
    # references to what does not exist
    ("POST", "/v1/agreements", _agreement(center_id=999999),
     422, "invalid_input", "center_id"),
    ("POST", "/v1/agreements", _agreement(bank_id=999999),
     422, "invalid_input", "bank_id"),
    ("POST", "/v1/universities", UNIVERSITY | {"center_id": 999999},
     422, "invalid_input", "center_id"),
    ("PATCH", "/v1/universities/{uA}", {"center_id": 999999}, 422, "invalid_input", "center_id"),
    ("POST", "/v1/users", {"name": "u", "role": "bank_operator", "org_id": 999999},
     422, "invalid_input", "org_id"),
    ("POST", "/v1/users", {"name": "u", "role": "admin", "org_id": "{bA}"},
     422, "invalid_input", "org_id"),
    ("POST", "/v1/universities/999999/enrolment", ENROLMENT, 404, "not_found", None),
    ("GET", "/v1/universities/99999999999999999999", None, 422, "invalid_input", None),
    ("PATCH", "/v1/enrolment/{eA}", {"count": 10**12}, 422, "validation_error", "count"),
    # conflicts with what exists
    ("POST", "/v1/banks", {"name": "dup", "code": "{bank_code}"}, 409, "conflict", None),
    ("POST", "/v1/universities/{uA}/enrolment",
     {"academic_year": "2024-2025", "category": "undergraduate", "full_time": True, "count": 1},
     409, "conflict", None),
    ("DELETE", "/v1/centers/{cA}", None, 409, "conflict", None),
    ("DELETE", "/v1/banks/{bA}", None, 409, "conflict", None),
]


@pytest.fixture
def world(db: Session) -> World:
    return build_world(db)


def _fill(value: object, ids: dict[str, object]) -> object:
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    return value


def _row_counts(db: Session) -> dict[str, int]:
    return {
        table.name: db.scalar(sa.select(sa.func.count()).select_from(table))
        for table in Base.metadata.sorted_tables
    }


@pytest.mark.parametrize(("method", "path", "body", "status", "code", "field"), CASES)
def test_invalid_input_changes_nothing(
    client: TestClient, db: Session, world: World,
    method: str, path: str, body: object, status: int, code: str, field: str | None,
) -> None:
    ids: dict[str, object] = dict(world.ids)
    ids["bank_code"] = client.get(f"/v1/banks/{world.ids['bA']}",
                                  headers=world.keys["admin"]).json()["code"]
    before = _row_counts(db)
    response = client.request(
        method, path.format(**world.ids), json=_fill(body, ids), headers=world.keys["admin"]
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    if field is not None:
        assert error["field"] == field
    if code == "validation_error":
        assert isinstance(error["details"], list)
    db.expire_all()
    assert _row_counts(db) == before


def test_malformed_json_is_a_validation_error(client: TestClient, world: World) -> None:
    headers = world.keys["admin"] | {"Content-Type": "application/json"}
    response = client.post("/v1/banks", content=b"{not json", headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
