"""Golden scenarios: every figure derived by hand from servicing-rules.md (see
each scenario's .md), run through ``loans simulate`` and ``POST /v1/simulations``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.engine.events import EventError
from app.engine.scenario import ScenarioError, run_scenario

HERE = Path(__file__).parent
SCENARIOS = sorted(HERE.glob("*.scenario.json"))


def _expected(path: Path) -> dict:
    return json.loads(path.with_name(path.name.replace(".scenario.", ".expected.")).read_text())


def _id(path: Path) -> str:
    return path.name.removesuffix(".scenario.json")


@pytest.mark.parametrize("path", SCENARIOS, ids=_id)
def test_golden_scenario(path: Path) -> None:
    raw, expected = json.loads(path.read_text()), _expected(path)
    if "error_contains" in expected:
        with pytest.raises((ScenarioError, EventError)) as err:
            run_scenario(raw)
        for fragment in expected["error_contains"]:
            assert fragment in str(err.value)
        return
    got = run_scenario(raw)
    for key, value in expected.items():
        assert got[key] == value, key


def test_there_are_at_least_thirty_golden_scenarios() -> None:
    assert len(SCENARIOS) >= 30


@pytest.mark.parametrize("path", [p for p in SCENARIOS if "refused" in p.name][:2] +
                         [p for p in SCENARIOS if "refused" not in p.name][:2], ids=_id)
def test_cli_and_api_give_the_same_answer(path: Path, client) -> None:
    expected = _expected(path)
    run = subprocess.run([sys.executable, "-m", "app.cli", "simulate", str(path)],
                         capture_output=True, text=True, check=False)
    response = client.post("/v1/simulations", json=json.loads(path.read_text()))
    if "error_contains" in expected:
        assert run.returncode == 2
        error = json.loads(run.stdout)["error"]
        assert response.status_code == 422
        assert response.json()["error"]["message"] == error
        assert response.json()["error"]["code"] == "invalid_scenario"
        return
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == response.json()
    for key, value in expected.items():
        assert response.json()[key] == value, key
