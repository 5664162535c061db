"""/metrics, structured logs with a request id (also in job logs), /health, /ready."""

from __future__ import annotations

import json
import logging
import re

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Connection

from app.auth.models import Role
from app.db import make_session_factory
from app.main import create_app
from app.observability import context, metrics
from tests.conftest import SETTINGS


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _sample(body: str, name: str, **labels: str) -> float:
    """The value of the sample ``name{labels}`` in Prometheus text (0 if absent)."""
    for line in body.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    given = client.get("/health", headers={"X-Request-ID": "req-42.abc"})
    assert given.headers["X-Request-ID"] == "req-42.abc"
    generated = client.get("/health")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["X-Request-ID"])
    refused = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", refused.headers["X-Request-ID"])
    errored = client.get("/v1/me", headers={"X-Request-ID": "r-401"})
    assert errored.status_code == 401 and errored.headers["X-Request-ID"] == "r-401"


def test_access_log_is_json_with_route_status_and_request_id(
    client: TestClient, auth_headers, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = {**auth_headers(Role.admin), "X-Request-ID": "trace-7"}
    assert client.get("/v1/users/999999", headers=headers).status_code == 404
    lines = [line for line in _json_lines(capsys.readouterr().err)
             if line.get("logger") == "app.access"]
    line = next(x for x in lines if x.get("request_id") == "trace-7")
    assert line["route"] == "/v1/users/{user_id}"
    assert line["status"] == 404 and line["method"] == "GET"
    assert line["level"] == "INFO" and "timestamp" in line and line["duration_ms"] >= 0


def test_job_logs_carry_the_request_id_job_and_date(capsys: pytest.CaptureFixture[str]) -> None:
    with context.bound(request_id="from-request"), metrics.observe_job("accrual", "2027-01-20"):
        logging.getLogger("jobs.accrual").info("chunk done")
    with metrics.observe_job("accrual", "2027-01-21"):
        logging.getLogger("jobs.accrual").info("chunk done")
    lines = [x for x in _json_lines(capsys.readouterr().err) if x["message"] == "chunk done"]
    assert lines[0]["request_id"] == "from-request"
    assert lines[0]["job"] == "accrual" and lines[0]["business_date"] == "2027-01-20"
    assert lines[1]["request_id"] not in (None, "from-request")
    assert lines[1]["business_date"] == "2027-01-21"
    assert context.current() == {}


def test_logs_never_show_a_full_id_number(capsys: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("app.test").warning("borrower %s not matched", "11010519491231002X")
    err = capsys.readouterr().err
    assert "11010519491231002X" not in err
    assert "110105********002X" in err


def test_metrics_after_traffic(client: TestClient, auth_headers, db) -> None:
    headers = auth_headers(Role.admin)
    for _ in range(3):
        assert client.get("/v1/me", headers=headers).status_code == 200
    assert client.get("/v1/users/999999", headers=headers).status_code == 404
    assert client.get("/no/such/path").status_code == 404
    with metrics.observe_job("nightly-servicing", "2027-01-20"):
        pass
    with pytest.raises(RuntimeError), metrics.observe_job("nightly-servicing", "2027-01-21"):
        raise RuntimeError("disk full")
    metrics.record_upload(file_format="csv", outcome="processed")

    @metrics.db_gauge("loans_test_users", "Users in the database (test gauge).")
    def _users(session) -> float:
        return float(session.scalar(sa.text("SELECT count(*) FROM users")))

    try:
        response = client.get("/metrics")
    finally:
        metrics._DB_GAUGES.pop("loans_test_users")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    request = "loans_http_request_duration_seconds_count"
    assert _sample(body, request, method="GET", route="/v1/me", status="200") >= 3
    assert _sample(body, request, route="/v1/users/{user_id}", status="404") >= 1
    assert _sample(body, request, route="unmatched", status="404") >= 1
    assert _sample(body, "loans_job_runs_total", job="nightly-servicing", outcome="success") >= 1
    assert _sample(body, "loans_job_runs_total", job="nightly-servicing", outcome="failure") >= 1
    assert _sample(body, "loans_job_duration_seconds_count", job="nightly-servicing") >= 2
    assert _sample(body, "loans_job_last_success_timestamp_seconds", job="nightly-servicing") > 0
    assert _sample(body, "loans_bank_file_uploads_total", format="csv", outcome="processed") >= 1
    assert _sample(body, "loans_test_users") == db.scalar(sa.text("SELECT count(*) FROM users"))


def test_ready_when_migrated_and_not_otherwise(client: TestClient, connection: Connection) -> None:
    assert client.get("/health").json() == {"status": "ok", "database": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    connection.execute(sa.text("UPDATE alembic_version SET version_num = '0001_foundation'"))
    behind = client.get("/ready")
    assert behind.status_code == 503
    assert behind.json()["error"]["code"] == "migrations_pending"


def test_unexpected_error_names_the_request_id(connection: Connection) -> None:
    app: FastAPI = create_app(
        SETTINGS,
        session_factory=make_session_factory(connection, join_transaction_mode="create_savepoint"),
    )

    def boom() -> None:
        raise RuntimeError("bug")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-ID": "r-500"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "r-500"
    assert response.json()["error"] == {
        "code": "internal_error", "message": "internal error", "details": {"request_id": "r-500"}
    }
