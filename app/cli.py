"""The ``loans`` command.  Modules add their own groups with ``app.add_typer``."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from app import demo
from app.auth import service as auth
from app.auth.models import ROLE_ORG, OrgType, Role
from app.auth.principal import Principal
from app.bankfiles.cli import bankfiles as bankfiles_cli
from app.config import get_settings
from app.db import make_engine, make_session_factory, run_migrations, session_scope
from app.defaults.cli import defaults as defaults_cli
from app.errors import DomainError
from app.ledger.cli import ledger as ledger_cli
from app.observability.logging import configure_logging
from app.privacy.rotation import rotate_data_keys
from app.riskfund.cli import risk_fund as risk_fund_cli
from app.simulation.cli import simulate
from app.subsidy.cli import subsidy as subsidy_cli
from jobs.cli import bench, jobs_cli, scheduler, worker

app = typer.Typer(
    help="National student loans servicing.", no_args_is_help=True, pretty_exceptions_enable=False
)
admin = typer.Typer(help="Users and API keys.", no_args_is_help=True)
app.add_typer(admin, name="admin")
app.add_typer(ledger_cli, name="ledger")
app.add_typer(defaults_cli, name="defaults")
app.add_typer(subsidy_cli, name="subsidy")
app.add_typer(risk_fund_cli, name="risk-fund")
app.add_typer(bankfiles_cli, name="bankfiles")
app.command("simulate")(simulate)
app.add_typer(jobs_cli, name="jobs")
app.command("worker")(worker)
app.command("scheduler")(scheduler)
app.command("bench")(bench)


@app.callback()
def _configure() -> None:
    settings = get_settings()
    configure_logging(log_format=settings.log_format, level=settings.log_level)


def cli_session() -> AbstractContextManager[Session]:
    """A transaction on the configured database, for one command."""
    engine = make_engine(get_settings().database_url)
    return session_scope(make_session_factory(engine))


def fail(message: str) -> typer.Exit:
    """Print ``message`` to stderr; ``raise fail(...)`` exits with status 2."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (alembic upgrade head)."""
    run_migrations(make_engine(get_settings().database_url))
    typer.echo("database is up to date")


@app.command("seed-demo")
def seed_demo() -> None:
    """Create the demo data and print one API key per role (only once)."""
    with cli_session() as session:
        keys = demo.seed_demo(session)
    if keys is None:
        typer.echo("demo data already present; new keys: loans admin create-key ...")
        return
    typer.echo("Demo API keys (shown once; send as 'Authorization: Bearer <token>'):")
    for role, org, token in keys:
        typer.echo(f"  {role:<20} {token}  ({org})")


@admin.command("create-key")
def create_key(
    org_type: Annotated[OrgType, typer.Option(help="organisation kind of the user")],
    role: Annotated[Role, typer.Option(help="the user's role")],
    name: Annotated[str, typer.Option(help="the user's name (created if new)")],
    org_id: Annotated[int | None, typer.Option(help="center/university/bank id")] = None,
) -> None:
    """Create (or reuse) a user and print a new API key for it."""
    if ROLE_ORG[role] != org_type:
        raise fail(f"role {role.value} belongs to org type {ROLE_ORG[role].value}")
    try:
        with cli_session() as session:
            operator = Principal.operator()
            user = auth.find_or_create_user(
                session, operator, name=name, role=role, org_id=org_id
            )
            key, token = auth.issue_key(session, operator, user=user)
    except DomainError as exc:
        raise fail(exc.message) from None
    typer.echo(f"user {user.id} ({user.name}, {role.value}); key {key.prefix}")
    typer.echo(token)


@admin.command("rotate-key")
def rotate_key(prefix: Annotated[str, typer.Argument(help="the key's prefix")]) -> None:
    """Revoke an API key and print a new one for the same user."""
    try:
        with cli_session() as session:
            key, token = auth.rotate_key(session, Principal.operator(), prefix=prefix)
    except DomainError as exc:
        raise fail(exc.message) from None
    typer.echo(f"key {prefix} revoked; new key {key.prefix} for user {key.user_id}")
    typer.echo(token)


@admin.command("rotate-data-key")
def rotate_data_key() -> None:
    """Re-encrypt personal data under the first of LOANS_DATA_ENCRYPTION_KEYS and
    re-hash ID numbers under LOANS_DATA_HASH_KEY (see README, key rotation)."""
    with cli_session() as session:
        counts = rotate_data_keys(session)
    for column, rows in counts.items():
        typer.echo(f"{column}: {rows} rows re-encrypted")


@admin.command("revoke-key")
def revoke_key(prefix: Annotated[str, typer.Argument(help="the key's prefix")]) -> None:
    """Revoke an API key by its prefix."""
    try:
        with cli_session() as session:
            auth.revoke_key(session, Principal.operator(), prefix=prefix)
    except DomainError as exc:
        raise fail(exc.message) from None
    typer.echo(f"key {prefix} revoked")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
