"""``loans subsidy settle``: run the settlement-day job for a business date."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

subsidy = typer.Typer(help="Interest subsidy claims.", no_args_is_help=True)


@subsidy.command("settle")
def settle(
    date: Annotated[str, typer.Option(help="business date, YYYY-MM-DD")],
) -> None:
    """Issue the subsidy statements of a settlement date (re-running issues nothing)."""
    from app.cli import cli_session, fail
    from app.money import fmt
    from app.subsidy.settlement import settle as run

    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise fail(f"not a date: {date!r}") from None
    with cli_session() as session:
        summary = run(session, day)
    typer.echo(f"{day.isoformat()}: {summary.loans_due} loans due, {summary.loans_serviced} "
               f"serviced, {summary.statements_created} statements, {summary.lines} lines, "
               f"total {fmt(summary.total)}")
