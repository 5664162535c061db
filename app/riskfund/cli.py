"""``loans risk-fund compute``: run the yearly job for a business date."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

risk_fund = typer.Typer(help="The risk-compensation fund.", no_args_is_help=True)


@risk_fund.command("compute")
def compute(date: Annotated[str, typer.Option(help="business date, YYYY-MM-DD")]) -> None:
    """Compute the funds of the year before ``date`` (re-running computes nothing)."""
    from app.cli import cli_session, fail
    from app.money import fmt
    from app.riskfund.service import run_year

    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise fail(f"not a date: {date!r}") from None
    with cli_session() as session:
        summary = run_year(session, day)
    typer.echo(f"{summary.year}: {summary.funds_created} funds computed, "
               f"total {fmt(summary.total)}")
