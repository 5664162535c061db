"""The worked examples of the spec reproduce exactly through the engine."""

import json
from pathlib import Path

import pytest

from app.engine.scenario import run_scenario

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "spec" / "examples"
SCENARIOS = sorted(EXAMPLES.glob("*.scenario.json"))


@pytest.mark.skipif(not SCENARIOS, reason="shared/spec/examples not beside the checkout")
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name.split(".")[0])
def test_worked_example_reproduces(path: Path) -> None:
    expected = json.loads(path.with_name(path.name.replace("scenario", "expected")).read_text())
    got = run_scenario(json.loads(path.read_text()))
    for key, value in expected.items():
        assert got[key] == value, key
