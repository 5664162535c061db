"""API keys: bearer tokens, hashed, revocable; 401 without a valid key."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import ApiKey
from tests import factories

PROTECTED = [
    ("GET", "/v1/me"),
    ("GET", "/v1/universities"),
    ("POST", "/v1/banks"),
    ("PATCH", "/v1/agreements/1"),
    ("GET", "/v1/audit"),
    ("GET", "/v1/calendar/working-days?start=2025-01-02&days=1"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer nonsense", "Bearer deadbeef.wrongsecret", "Basic dXNlcjpwYXNz", "Bearer "],
)
def test_no_or_unknown_key_is_401(
    client: TestClient, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.request(method, path, headers=headers, json={})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_revoked_key_is_401(client: TestClient, db: Session, make_university) -> None:
    university = make_university()
    token, _ = factories.make_key(db, "university_officer", university)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/v1/universities/{university.id}", headers=headers).status_code == 200
    prefix = token.split(".")[0]
    assert client.post(f"/v1/api-keys/{prefix}/revoke", headers=headers).status_code == 200
    for path in (f"/v1/universities/{university.id}", "/v1/me"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == {"code": "unauthorized", "message": "API key revoked"}


def test_key_with_right_prefix_and_wrong_secret_is_401(
    client: TestClient, db: Session, auth_headers
) -> None:
    token = auth_headers("admin")["Authorization"].removeprefix("Bearer ")
    prefix = token.split(".")[0]
    response = client.get("/v1/me", headers={"Authorization": f"Bearer {prefix}.guess"})
    assert response.status_code == 401


def test_token_is_stored_only_as_its_hash(db: Session) -> None:
    token, user_id = factories.make_key(db, "admin")
    key = db.scalars(sa.select(ApiKey).where(ApiKey.user_id == user_id)).one()
    assert key.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token.startswith(key.prefix + ".")
    assert len(token) > 40


def test_me_names_the_caller(client: TestClient, make_bank, auth_headers) -> None:
    bank = make_bank()
    response = client.get("/v1/me", headers=auth_headers("bank_operator", bank, name="Li Lei"))
    assert response.status_code == 200
    assert response.json() | {"user_id": 0} == {
        "user_id": 0, "user_name": "Li Lei", "role": "bank_operator", "org_type": "bank",
        "center_id": None, "university_id": None, "bank_id": bank.id,
    }


def test_admin_creates_user_and_key_shown_once(
    client: TestClient, make_center, auth_headers
) -> None:
    admin = auth_headers("admin")
    center = make_center()
    user = client.post(
        "/v1/users", json={"name": "Wang Fang", "role": "center_staff", "org_id": center.id},
        headers=admin,
    )
    assert user.status_code == 201
    assert user.json()["center_id"] == center.id
    issued = client.post(f"/v1/users/{user.json()['id']}/api-keys", headers=admin)
    assert issued.status_code == 201
    token = issued.json()["token"]
    me = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["user_name"], me["center_id"]) == ("Wang Fang", center.id)
    assert "token" not in client.get(f"/v1/users/{user.json()['id']}", headers=admin).json()


def test_only_admins_manage_users_and_keys(
    client: TestClient, db: Session, make_center, auth_headers
) -> None:
    center = make_center()
    staff = auth_headers("center_staff", center)
    response = client.post(
        "/v1/users", json={"name": "x", "role": "center_staff", "org_id": center.id}, headers=staff
    )
    assert response.status_code == 403
    colleague_token, colleague_id = factories.make_key(db, "center_staff", center)
    assert client.post(f"/v1/users/{colleague_id}/api-keys", headers=staff).status_code == 403
    prefix = colleague_token.split(".")[0]
    assert client.post(f"/v1/api-keys/{prefix}/revoke", headers=staff).status_code == 404
    users = client.get("/v1/users", headers=staff).json()
    assert {u["center_id"] for u in users} == {center.id}


def test_revoking_twice_is_a_conflict(client: TestClient, db: Session, auth_headers) -> None:
    admin = auth_headers("admin")
    token, _ = factories.make_key(db, "admin")
    prefix = token.split(".")[0]
    assert client.post(f"/v1/api-keys/{prefix}/revoke", headers=admin).status_code == 200
    response = client.post(f"/v1/api-keys/{prefix}/revoke", headers=admin)
    assert response.status_code == 409
    assert client.post("/v1/api-keys/nosuch/revoke", headers=admin).status_code == 404
