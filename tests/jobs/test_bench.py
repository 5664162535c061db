"""``loans bench`` end to end on a tiny portfolio: every figure measured against
its baseline, and a kept portfolio measured later (``--build-only``, ``--schema``),
the API figure included (jobs/bench_api.py; its own test looks closer)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app import cli
from app.db import make_engine
from jobs.bench import SERVER_SETTINGS
from tests.conftest import PG_URL

pytestmark = pytest.mark.pg_only
LOANS = 40  # two of them reportable defaults (every 20th)


def _schemas() -> set[str]:
    engine = make_engine(PG_URL)
    with engine.connect() as conn:
        names = set(conn.scalars(sa.text(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench_%'")))
    engine.dispose()
    return names


def _bench(*args: str) -> str:
    result = CliRunner().invoke(cli.app, ["bench", "--database-url", PG_URL, "--workers", "1",
                                          "--loans", str(LOANS), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_kept_portfolio_is_measured_later(tmp_path: Path) -> None:
    before = _schemas()
    output = _bench("--build-only", "--json", str(tmp_path / "built.json"))
    [schema] = _schemas() - before
    built = json.loads((tmp_path / "built.json").read_text())
    assert built["loans"] == LOANS and built["figures"] == {}
    # what it ran on: the ratios compare within one machine only
    assert built["machine"]["cores"] == os.cpu_count() and built["machine"]["cpu"]
    server = built["database_server"]
    assert server["version"].split(".")[0].isdigit()
    assert set(server) == {"version", *SERVER_SETTINGS} and server["jit"] in ("on", "off")
    assert f"search_path={schema}" in output

    _bench("--schema", schema, "--repayment-lines", "10", "--api-clients", "2",
           "--api-seconds", "1", "--json", str(tmp_path / "m.json"))
    summary = json.loads((tmp_path / "m.json").read_text())
    assert summary["loans"] == LOANS
    figures = summary["figures"]
    api = figures.pop("api_origination")
    assert api["requests_per_second"] > 0 and api["baseline_requests_per_second"] > 0
    assert api["created"]["approval"] == api["created"]["application"] > 0
    assert (api["clients"], api["quota"]) == (2, "ample")
    assert figures["ordinary_day"]["loans"] == 0
    assert figures["due_day"]["loans"] == LOANS
    assert figures["repayment_file"]["lines"] == 10
    assert figures["default_list"]["defaults"] == LOANS // 20
    for figure in figures.values():
        assert figure["seconds"] > 0 and figure["baseline_seconds"] >= 0  # 40 rows: may round to 0
        # seconds and baseline are rounded to the millisecond, the ratio is not
        s, b, half = figure["seconds"], figure["baseline_seconds"], 0.0005
        upper = (s + half) / (b - half) if b > half else float("inf")
        assert (s - half) / (b + half) <= figure["ratio"] <= upper
    assert schema not in _schemas()  # measured, then dropped (no --keep)


def test_a_bare_baseline_is_the_median_of_its_samples() -> None:
    from jobs.bench import COPY_SAMPLES, UPDATE_SAMPLES, _median_of

    for samples, median in (([0.92, 0.69, 1.03], 0.92), ([0.92, 0.69, 1.03, 0.70, 0.95], 0.92)):
        timings = iter(samples)
        assert _median_of(len(samples), timings.__next__) == median
        assert next(timings, None) is None  # every sample taken
    # An odd number of several samples: the baseline is a timing measured.
    for n in (COPY_SAMPLES, UPDATE_SAMPLES):
        assert n > 1 and n % 2 == 1
