"""``loans bankfiles``: upload, process (what the job does), report, bench."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from app.bankfiles.models import FileFormat

bankfiles = typer.Typer(help="Bank repayment files.", no_args_is_help=True)


def _date(value: str | None) -> dt.date:
    from app import clock

    return dt.date.fromisoformat(value) if value else clock.today()


@bankfiles.command("upload")
def upload(
    path: Annotated[Path, typer.Argument(help="the file as the bank sent it")],
    bank_id: Annotated[int, typer.Option(help="the bank that sent it")],
    format: Annotated[FileFormat, typer.Option()] = FileFormat.repayment_csv,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding; detected if not given")]
    = None,
) -> None:
    """Store a bank file (as an operator) and print its upload id."""
    from app.auth.principal import Principal
    from app.bankfiles.service import create_upload
    from app.bankfiles.storage import spool
    from app.cli import cli_session, fail
    from app.errors import DomainError

    try:
        with path.open("rb") as raw, cli_session() as session:
            # An operator at the machine: no upload limit.
            spooled = spool(iter(lambda: raw.read(1024 * 1024), b""), max_bytes=2**62)
            record, created = create_upload(session, Principal.operator(), file=spooled,
                                            format=format, filename=path.name,
                                            encoding=encoding, bank_id=bank_id)
    except (OSError, DomainError) as exc:
        raise fail(getattr(exc, "message", str(exc))) from None
    typer.echo(f"upload {record.id}" + ("" if created else " (these bytes were uploaded before)"))


@bankfiles.command("process")
def process(
    upload_id: Annotated[int | None, typer.Argument(help="one upload; default: all pending")]
    = None,
    date: Annotated[str | None, typer.Option(help="business date (YYYY-MM-DD)")] = None,
) -> None:
    """Process pending uploads (or one), as the scheduled job does; resumable."""
    from app import cli
    from app.bankfiles.processing import process_pending, process_upload
    from app.db import make_engine, make_session_factory
    from app.errors import DomainError

    fail = cli.fail
    factory = make_session_factory(make_engine(cli.get_settings().database_url))
    try:
        if upload_id is None:
            ids = process_pending(factory, _date(date))
            typer.echo(f"processed {len(ids)} uploads")
            return
        done = process_upload(factory, upload_id, business_date=_date(date))
    except DomainError as exc:
        raise fail(exc.message) from None
    typer.echo(f"upload {done.id}: {done.status.value}"
               + (f" ({done.fault_code}: {done.fault_message})" if done.fault_code else ""))


@bankfiles.command("report")
def report(upload_id: int) -> None:
    """An upload's report as JSON."""
    from app.bankfiles.models import BankUpload
    from app.bankfiles.service import upload_report
    from app.cli import cli_session, fail

    with cli_session() as session:
        record = session.get(BankUpload, upload_id)
        if record is None:
            raise fail(f"upload {upload_id} not found")
        body = {"id": record.id, "status": record.status.value, "fault": record.fault_code,
                **upload_report(session, record)}
    typer.echo(json.dumps(body, indent=1, ensure_ascii=False))


@bankfiles.command("bench")
def bench(
    lines: Annotated[int, typer.Option(help="lines in the generated file")] = 1_000_000,
    max_rss_mb: Annotated[int, typer.Option(help="fail above this peak RSS of processing")]
    = 400,
    post_every: Annotated[int, typer.Option(help="one line in N goes to a real loan")] = 100,
    workdir: Annotated[Path | None, typer.Option(help="where the SQLite database goes")]
    = None,
) -> None:
    """Generate a file, upload it, process it in a child process; report its peak RSS."""
    from app.bankfiles.bench import run_bench

    result = run_bench(lines=lines, post_every=post_every, workdir=workdir)
    typer.echo(json.dumps(result, indent=1))
    if result["peak_rss_mb"] > max_rss_mb:
        typer.echo(f"peak RSS {result['peak_rss_mb']} MB exceeds {max_rss_mb} MB", err=True)
        raise typer.Exit(1)
