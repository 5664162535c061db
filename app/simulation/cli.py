"""``loans simulate SCENARIO.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from app.engine.events import EventError
from app.engine.scenario import ScenarioError, run_scenario


def simulate(
    scenario: Annotated[Path, typer.Argument(help="scenario JSON file (simulation.md)")],
) -> None:
    """Run one loan's scenario through the servicing engine; print the result JSON."""
    try:
        raw = json.loads(scenario.read_text(encoding="utf-8"))
        result = run_scenario(raw)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        typer.echo(json.dumps({"error": f"cannot read scenario: {exc}"}, ensure_ascii=False))
        raise typer.Exit(2) from None
    except (ScenarioError, EventError) as exc:
        typer.echo(json.dumps({"error": str(exc)}, ensure_ascii=False))
        raise typer.Exit(2) from None
    typer.echo(json.dumps(result, indent=1, ensure_ascii=False))
