"""Every write leaves an audit record naming the API key's owner."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.audit.models import AuditRecord
from tests.world import World, build_world

AGREEMENT = {
    "center_id": "{cA}", "bank_id": "{bB}", "valid_from": "2025-01-01",
    "valid_to": "2025-12-31", "approval_deadline_working_days": 10,
    "risk_compensation_rate": "0.125", "subsidy_settlement": "monthly", "rate_rule": "LPR",
}

# (role, method, path, body, action, entity type) - every write endpoint.
WRITES = [
    ("admin", "POST", "/v1/centers",
     {"name": "Center X", "level": "provincial", "province_code": "99"}, "create", "centers"),
    ("admin", "PATCH", "/v1/centers/{cB}", {"name": "Center Y"}, "update", "centers"),
    ("admin", "POST", "/v1/banks", {"name": "Bank X", "code": "BX"}, "create", "banks"),
    ("admin", "PATCH", "/v1/banks/{bB}", {"name": "Bank Y"}, "update", "banks"),
    ("center_staff", "POST", "/v1/universities",
     {"name": "Uni X", "code": "UX1", "center_id": "{cA}", "staff_count": 3},
     "create", "universities"),
    ("center_staff", "PATCH", "/v1/universities/{uA}", {"staff_count": 9},
     "update", "universities"),
    ("center_staff", "POST", "/v1/agreements", AGREEMENT, "create", "agreements"),
    ("center_staff", "PATCH", "/v1/agreements/{agA}", {"valid_to": None},
     "update", "agreements"),
    ("university_officer", "POST", "/v1/universities/{uA}/enrolment",
     {"academic_year": "2025-2026", "category": "graduate", "full_time": False, "count": 4},
     "create", "enrolment"),
    ("university_officer", "PATCH", "/v1/enrolment/{eA}", {"count": 2}, "update", "enrolment"),
    ("university_officer", "DELETE", "/v1/enrolment/{eA}", None, "delete", "enrolment"),
    ("admin", "DELETE", "/v1/agreements/{agB}", None, "delete", "agreements"),
    ("admin", "POST", "/v1/users",
     {"name": "new officer", "role": "university_officer", "org_id": "{uB}"}, "create", "users"),
]


@pytest.fixture
def world(db: Session) -> World:
    return build_world(db)


def _fill(value: object, ids: dict[str, int]) -> object:
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, str) and value.startswith("{"):
        return int(value.format(**ids))
    return value


def _audit_count(db: Session) -> int:
    return db.scalar(sa.select(sa.func.count()).select_from(AuditRecord))


@pytest.mark.parametrize(("role", "method", "path", "body", "action", "entity"), WRITES)
def test_write_is_audited_with_the_key_owner(
    client: TestClient, db: Session, world: World,
    role: str, method: str, path: str, body: dict | None, action: str, entity: str,
) -> None:
    count = _audit_count(db)
    response = client.request(
        method, path.format(**world.ids), json=_fill(body, world.ids), headers=world.keys[role]
    )
    assert response.status_code in (200, 201, 204), response.text
    assert _audit_count(db) == count + 1
    record = db.scalars(sa.select(AuditRecord).order_by(AuditRecord.id.desc()).limit(1)).one()
    assert record.user_name == world.names[role]
    assert record.user_id is not None
    assert (record.action, record.entity_type) == (action, entity)
    assert record.at.tzinfo is not None
    if action == "create":
        assert record.before is None
        assert record.after["id"] == response.json()["id"]
        assert record.entity_id == str(response.json()["id"])
    elif action == "update":
        changed = next(iter(body))
        assert record.before[changed] != record.after[changed]
        assert record.after[changed] == response.json()[changed]
    else:
        assert record.after is None and record.before is not None


def test_key_issue_and_revoke_are_audited(client: TestClient, db: Session, world: World) -> None:
    admin = world.keys["admin"]
    user = client.post(
        "/v1/users",
        json={"name": "bank clerk", "role": "bank_operator", "org_id": world.ids["bB"]},
        headers=admin,
    ).json()
    issued = client.post(f"/v1/users/{user['id']}/api-keys", headers=admin)
    assert issued.status_code == 201
    prefix = issued.json()["prefix"]
    assert client.post(f"/v1/api-keys/{prefix}/revoke", headers=admin).status_code == 200
    records = db.scalars(
        sa.select(AuditRecord).where(AuditRecord.entity_type == "api_keys")
        .order_by(AuditRecord.id.desc()).limit(2)
    ).all()
    assert [r.action for r in records] == ["revoke", "create"]
    assert {r.user_name for r in records} == {world.names["admin"]}
    assert issued.json()["token"] not in str(records[1].after)
    assert records[0].before["revoked_at"] is None and records[0].after["revoked_at"]


def test_audit_log_is_scoped(client: TestClient, world: World) -> None:
    client.patch(f"/v1/enrolment/{world.ids['eA']}", json={"count": 3},
                 headers=world.keys["university_officer"])
    mine = client.get("/v1/audit", headers=world.keys["university_officer"]).json()
    assert [r["action"] for r in mine] == ["update"]
    assert client.get("/v1/audit", headers=world.keys["bank_operator"]).json() == []
    everything = client.get("/v1/audit?entity_type=enrolment", headers=world.keys["admin"]).json()
    assert len(everything) >= 3  # two factory creations and the update
