"""``POST /v1/simulations``: the scenario in, the engine's result out (simulation.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from app.engine.events import EventError
from app.engine.scenario import ScenarioError, run_scenario
from app.errors import InvalidInput

router = APIRouter(tags=["simulations"])


@router.post("/simulations")
def simulate(scenario: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
    """Run a scenario; 422 naming the event for a scenario the rules refuse.

    Open to any caller, with or without an API key: it touches no stored data
    (aid officers use it to counsel students).
    """
    try:
        return run_scenario(scenario)
    except (ScenarioError, EventError) as exc:
        raise InvalidInput(str(exc), code="invalid_scenario") from None
