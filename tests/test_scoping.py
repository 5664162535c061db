"""The scoping matrix: what each role may read and write (404 as if absent)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.world import World, build_world

ROLES = ["center_staff", "bank_operator", "university_officer"]

# Requests on side B's university, agreement and enrolment: (method, path, body).
OTHER_ORG_REQUESTS = [
    ("GET", "/v1/universities/{uB}", None),
    ("PATCH", "/v1/universities/{uB}", {"staff_count": 1}),
    ("DELETE", "/v1/universities/{uB}", None),
    ("GET", "/v1/agreements/{agB}", None),
    ("PATCH", "/v1/agreements/{agB}", {"approval_deadline_working_days": 5}),
    ("DELETE", "/v1/agreements/{agB}", None),
    ("GET", "/v1/universities/{uB}/enrolment", None),
    (
        "POST",
        "/v1/universities/{uB}/enrolment",
        {"academic_year": "2025-2026", "category": "graduate", "full_time": True, "count": 1},
    ),
    ("GET", "/v1/enrolment/{eB}", None),
    ("PATCH", "/v1/enrolment/{eB}", {"count": 1}),
    ("DELETE", "/v1/enrolment/{eB}", None),
    ("GET", "/v1/centers/{cB}", None),
    ("PATCH", "/v1/centers/{cB}", {"name": "taken over"}),
]


@pytest.fixture
def world(db: Session) -> World:
    return build_world(db)


def _snapshot(client: TestClient, world: World) -> list[dict]:
    admin = world.keys["admin"]
    return [
        client.get(f"/v1/universities/{world.ids['uB']}", headers=admin).json(),
        client.get(f"/v1/agreements/{world.ids['agB']}", headers=admin).json(),
        client.get(f"/v1/universities/{world.ids['uB']}/enrolment", headers=admin).json(),
        client.get(f"/v1/centers/{world.ids['cB']}", headers=admin).json(),
    ]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "body"), OTHER_ORG_REQUESTS)
def test_other_organisations_data_is_absent(
    client: TestClient, world: World, role: str, method: str, path: str, body: dict | None
) -> None:
    before = _snapshot(client, world)
    response = client.request(
        method, path.format(**world.ids), json=body, headers=world.keys[role]
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    assert _snapshot(client, world) == before


@pytest.mark.parametrize("role", ROLES)
def test_lists_hold_only_what_the_caller_may_see(
    client: TestClient, world: World, role: str
) -> None:
    headers = world.keys[role]
    universities = {u["id"] for u in client.get("/v1/universities", headers=headers).json()}
    agreements = {a["id"] for a in client.get("/v1/agreements", headers=headers).json()}
    centers = {c["id"] for c in client.get("/v1/centers", headers=headers).json()}
    assert universities == {world.ids["uA"]}
    assert agreements == {world.ids["agA"]}
    assert centers == {world.ids["cA"]}


def test_admin_sees_everything(client: TestClient, world: World) -> None:
    headers = world.keys["admin"]
    for path in ("/v1/universities/{uB}", "/v1/agreements/{agB}", "/v1/enrolment/{eB}"):
        assert client.get(path.format(**world.ids), headers=headers).status_code == 200
    universities = {u["id"] for u in client.get("/v1/universities", headers=headers).json()}
    assert {world.ids["uA"], world.ids["uB"]} <= universities


def test_banks_visible_by_role(client: TestClient, world: World) -> None:
    def banks(role: str) -> set[int]:
        return {b["id"] for b in client.get("/v1/banks", headers=world.keys[role]).json()}

    assert banks("bank_operator") == {world.ids["bA"]}
    assert banks("university_officer") == {world.ids["bA"]}
    assert {world.ids["bA"], world.ids["bB"]} <= banks("center_staff")
    other_bank = f"/v1/banks/{world.ids['bB']}"
    assert client.get(other_bank, headers=world.keys["bank_operator"]).status_code == 404


@pytest.mark.parametrize(
    ("role", "method", "path", "body", "status"),
    [
        # Own side: allowed writes succeed ...
        ("center_staff", "PATCH", "/v1/universities/{uA}", {"staff_count": 7}, 200),
        ("center_staff", "PATCH", "/v1/agreements/{agA}", {"rate_rule": "LPR"}, 200),
        ("university_officer", "PATCH", "/v1/enrolment/{eA}", {"count": 5}, 200),
        ("center_staff", "PATCH", "/v1/enrolment/{eA}", {"count": 6}, 200),
        # ... visible but not the caller's to change: 403.
        ("bank_operator", "PATCH", "/v1/universities/{uA}", {"staff_count": 7}, 403),
        ("bank_operator", "PATCH", "/v1/agreements/{agA}", {"rate_rule": "x"}, 403),
        ("bank_operator", "PATCH", "/v1/enrolment/{eA}", {"count": 5}, 403),
        ("university_officer", "PATCH", "/v1/universities/{uA}", {"staff_count": 7}, 403),
        ("university_officer", "PATCH", "/v1/agreements/{agA}", {"rate_rule": "x"}, 403),
        ("center_staff", "PATCH", "/v1/centers/{cA}", {"name": "renamed"}, 403),
        ("bank_operator", "PATCH", "/v1/banks/{bA}", {"name": "renamed"}, 403),
    ],
)
def test_writes_on_visible_data_follow_the_role(
    client: TestClient, world: World, role: str, method: str, path: str, body: dict, status: int
) -> None:
    response = client.request(
        method, path.format(**world.ids), json=body, headers=world.keys[role]
    )
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["error"]["code"] == "forbidden"
    else:
        assert {k: response.json()[k] for k in body} == body


def test_center_cannot_create_for_another_center(client: TestClient, world: World) -> None:
    headers = world.keys["center_staff"]
    response = client.post(
        "/v1/universities",
        json={"name": "Sneaky", "code": "S1", "center_id": world.ids["cB"]},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "center_id"
    response = client.post(
        "/v1/agreements",
        json={
            "center_id": world.ids["cB"], "bank_id": world.ids["bA"],
            "valid_from": "2025-01-01", "approval_deadline_working_days": 10,
            "risk_compensation_rate": "0.1", "subsidy_settlement": "annual",
        },
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "center_id"
    admin = world.keys["admin"]
    names = {u["name"] for u in client.get("/v1/universities", headers=admin).json()}
    assert "Sneaky" not in names
    assert len(client.get("/v1/agreements", headers=admin).json()) == 2
