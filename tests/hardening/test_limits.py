"""Body size limits (413) and per-key rate limits (429), in the JSON error shape."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.db import make_session_factory
from app.limits import NS_PER_SECOND as SECOND
from app.limits import TokenBuckets
from app.main import create_app
from tests.conftest import SETTINGS


@pytest.fixture
def limited(connection: Connection) -> Callable[..., TestClient]:
    """``limited(**settings)``: a client of an app built with these settings."""
    clients: list[TestClient] = []

    def build(**overrides: int) -> TestClient:
        app = create_app(
            SETTINGS.model_copy(update=overrides),
            session_factory=make_session_factory(
                connection, join_transaction_mode="create_savepoint"
            ),
        )
        client = TestClient(app)
        clients.append(client.__enter__())
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


def _users(db: Session) -> int:
    return db.scalar(sa.select(sa.func.count()).select_from(User))


def _user(name: str) -> dict:
    return {"name": name, "role": "admin", "org_id": None}


def test_json_body_over_the_limit_is_refused_unread(limited, auth_headers, db) -> None:
    client = limited(max_body_bytes=200)
    admin = auth_headers(Role.admin)
    before = _users(db)
    response = client.post("/v1/users", json=_user("x" * 300), headers=admin)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert "200 bytes" in response.json()["error"]["message"]
    assert _users(db) == before
    assert client.post("/v1/users", json=_user("fits"), headers=admin).status_code == 201


def test_chunked_body_is_counted_as_it_arrives(limited, auth_headers, db) -> None:
    client = limited(max_body_bytes=200)
    headers = {**auth_headers(Role.admin), "Content-Type": "application/json"}
    before = _users(db)

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(10):
            yield b"y" * 50
        yield b'", "role": "admin", "org_id": null}'

    response = client.post("/v1/users", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert _users(db) == before


def test_uploads_have_their_own_larger_limit(limited, auth_headers) -> None:
    client = limited(max_body_bytes=100, max_upload_bytes=1000)
    headers = auth_headers(Role.admin)
    # A file upload larger than a JSON body may be, smaller than the upload limit:
    # not refused for its size (this route takes no file: 422, not 413).
    fits = client.post("/v1/users", files={"file": ("a.csv", b"x" * 500)}, headers=headers)
    assert fits.status_code == 422
    too_big = client.post("/v1/users", files={"file": ("a.csv", b"x" * 1500)}, headers=headers)
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "too_large"


def test_writes_are_rate_limited_per_key(limited, auth_headers, db) -> None:
    client = limited(rate_limit_writes_per_minute=1, rate_limit_writes_burst=2)
    first, second = auth_headers(Role.admin), auth_headers(Role.admin)
    assert client.post("/v1/users", json=_user("a"), headers=first).status_code == 201
    assert client.post("/v1/users", json=_user("b"), headers=first).status_code == 201
    before = _users(db)
    refused = client.post("/v1/users", json=_user("c"), headers=first)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert _users(db) == before
    # Reads are not limited; another key has its own bucket.
    assert client.get("/v1/users", headers=first).status_code == 200
    assert client.post("/v1/users", json=_user("d"), headers=second).status_code == 201


def test_uploads_are_rate_limited_apart_from_writes(limited, auth_headers) -> None:
    client = limited(rate_limit_uploads_per_minute=1, rate_limit_uploads_burst=1)
    headers = auth_headers(Role.admin)
    upload = {"files": {"file": ("a.csv", b"x")}, "headers": headers}
    assert client.post("/v1/users", **upload).status_code == 422
    refused = client.post("/v1/users", **upload)
    assert refused.status_code == 429 and "uploads" in refused.json()["error"]["message"]
    assert client.post("/v1/users", json=_user("a"), headers=headers).status_code == 201


def test_token_bucket_refills_at_its_rate() -> None:
    buckets = TokenBuckets(per_minute=60, burst=2)
    assert buckets.take("k", now_ns=0) == 0
    assert buckets.take("k", now_ns=0) == 0
    assert buckets.take("k", now_ns=0) == SECOND
    assert buckets.take("k", now_ns=SECOND // 2) == SECOND // 2
    assert buckets.take("k", now_ns=SECOND) == 0
    assert buckets.take("other", now_ns=SECOND) == 0


def test_a_slow_refill_waits_whole_nanoseconds_and_never_drifts() -> None:
    buckets = TokenBuckets(per_minute=7, burst=1)  # one token every 60/7 s
    assert buckets.take("k", now_ns=0) == 0
    assert buckets.take("k", now_ns=0) == -(-60 * SECOND // 7)
    # a thousand refused tries on the way lose nothing of the refill
    for n in range(1, 1000):
        assert buckets.take("k", now_ns=n * 1000) > 0
    assert buckets.take("k", now_ns=60 * SECOND // 7) > 0
    assert buckets.take("k", now_ns=-(-60 * SECOND // 7)) == 0


def test_full_buckets_are_forgotten_when_too_many_keys() -> None:
    buckets = TokenBuckets(per_minute=60, burst=1)
    buckets.MAX_KEYS = 3
    for key in "abc":
        buckets.take(key, now_ns=0)
    assert buckets.take("d", now_ns=10 * SECOND) == 0
    assert set(buckets.buckets) == {"d"}
