"""``loans defaults``: freeze a date's default list, export it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from app.auth.principal import Principal
from app.defaults import exports, service

defaults = typer.Typer(help="Default lists: snapshots and exports.", no_args_is_help=True)


@defaults.command("snapshot")
def snapshot(date: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"],
                                                        help="business date")]) -> None:
    """Freeze the default list of a business date (the nightly job's step)."""
    from app.cli import cli_session

    with cli_session() as session:
        n = service.take_default_snapshot(session, business_date=date.date())
    typer.echo(f"{date.date().isoformat()}: {n} reportable defaults")


@defaults.command("export")
def export(
    as_of: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="as-of date")],
    out: Annotated[Path, typer.Option(help="file to write")],
    format: Annotated[str, typer.Option(help="csv or xlsx")] = "csv",
) -> None:
    """Write the whole default list (every center) as CSV or Excel."""
    from app.cli import cli_session, fail

    if format not in ("csv", "xlsx"):
        raise fail("format must be csv or xlsx")
    with cli_session() as session, out.open("wb") as handle:
        rows = service.default_list(session, Principal.operator(), as_of=as_of.date())
        if format == "csv":
            exports.write_csv(rows, handle)
        else:
            exports.write_xlsx(rows, handle, title=f"default-list-{as_of.date()}")
    typer.echo(f"wrote {out}")
