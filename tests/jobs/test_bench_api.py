"""The API figure of ``loans bench`` on a tiny scale, through the bench's own
code (a real uvicorn server on a fresh bench database), and the bare endpoint
absent unless the bench's setting mounts it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.db import make_session_factory, session_scope
from app.origination.models import Application, Batch, Decision, DecisionKind, Quota
from jobs.bench import bench_engine, seed_reference
from jobs.bench_api import AMOUNT, AMPLE_QUOTA, measure
from jobs.bench_route import BARE
from tests.conftest import PG_URL

KEYS = {"requests_per_second", "baseline_requests_per_second", "ratio", "p50_ms", "p99_ms",
        "baseline_p50_ms", "baseline_p99_ms", "clients", "seconds", "server_workers",
        "requests_per_origination", "created", "quota", "quota_refused"}


@pytest.mark.parametrize("quota", [AMPLE_QUOTA, AMOUNT * 2], ids=["ample", "two_approvals"])
def test_api_figure_and_every_201_is_a_row(tmp_path: Path, quota: Decimal) -> None:
    with bench_engine(PG_URL or f"sqlite:///{tmp_path / 'bench.db'}", keep=False) as engine:
        with session_scope(make_session_factory(engine)) as session:
            ids = seed_reference(session)
        figure = measure(engine, ids, clients=3, seconds=1.5, workers=2, students_from=0,
                         quota=quota)
        with engine.connect() as conn:
            def count(table, *where) -> int:
                return conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where))

            rows = {"application": count(Application), "batch": count(Batch),
                    "approval": count(Decision, Decision.decision == DecisionKind.approved),
                    "bare": count(BARE)}
            consumed = conn.scalar(sa.select(Quota.consumed))

    assert set(figure) == KEYS
    assert figure["created"] == rows
    assert rows["application"] > 0 and rows["bare"] > 0
    assert figure["requests_per_second"] > 0 and figure["baseline_requests_per_second"] > 0
    assert figure["ratio"] == pytest.approx(
        figure["baseline_requests_per_second"] / figure["requests_per_second"], rel=0.05)
    assert 0 < figure["p50_ms"] <= figure["p99_ms"]
    assert 0 < figure["baseline_p50_ms"] <= figure["baseline_p99_ms"]
    assert (figure["clients"], figure["seconds"], figure["server_workers"]) == (3, 1.5, 2)
    # Each origination ran to its end: the approval was granted or refused by quota.
    assert rows["batch"] == rows["application"] == rows["approval"] + figure["quota_refused"]
    assert consumed == rows["approval"] * AMOUNT
    if quota == AMPLE_QUOTA:
        assert (figure["quota"], figure["quota_refused"]) == ("ample", 0)
    else:
        assert rows["approval"] == 2
        assert figure["quota"] == "exhausted" and figure["quota_refused"] > 0


def test_bare_endpoint_is_absent_unless_the_bench_mounts_it(client: TestClient) -> None:
    response = client.post("/bench/bare-insert", json={"note": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
