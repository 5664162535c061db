"""``loans ledger verify``."""

from __future__ import annotations

import typer

ledger = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)


@ledger.command("verify")
def verify() -> None:
    """Every entry balances, the trial balance is zero, every loan matches the engine,
    every payment was receipted once, every bank line names rows that exist.

    Exits 1 and names what differs.
    """
    from app.bankfiles.application import dangling_line_references, receipts_difference
    from app.cli import cli_session
    from app.ledger.verify import orphan_legs, trial_balance, unbalanced_entries
    from app.servicing.reconcile import loan_differences

    problems = 0
    with cli_session() as session:
        for entry_id, total in unbalanced_entries(session):
            typer.echo(f"entry {entry_id} does not balance: legs sum to {total}")
            problems += 1
        orphans = orphan_legs(session)
        if orphans:
            typer.echo(f"{orphans} legs belong to no entry")
            problems += 1
        total = trial_balance(session)
        if total != 0:
            typer.echo(f"trial balance is {total}, not 0.00")
            problems += 1
        for d in loan_differences(session):
            typer.echo(f"loan {d.loan_id} ({d.contract_no}) {d.account}: "
                       f"ledger {d.ledger}, engine {d.engine}")
            problems += 1
        booked, due = receipts_difference(session)
        if booked != due:
            typer.echo(f"repayments_clearing receipts are {booked}, the payments recorded "
                       f"and posted call for {due}")
            problems += 1
        for column, count in dangling_line_references(session).items():
            typer.echo(f"{count} bank lines name a {column} that does not exist")
            problems += 1
    if problems:
        raise typer.Exit(1)
    typer.echo("ledger verified: every entry balances, trial balance 0.00, loans match the "
               "engine, payments receipted, bank lines consistent")
