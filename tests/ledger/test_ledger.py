"""The ledger's integrity holds in the database itself, and posting is idempotent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from app import cli
from app.auth.principal import Principal
from app.config import Settings
from app.db import allocate_ids
from app.errors import Conflict
from app.ledger.models import Account, JournalEntry, JournalLeg
from app.ledger.service import (
    ENTRY_ID_SEQUENCE,
    NewEntry,
    account_ids,
    balanced_legs,
    post,
)
from app.ledger.verify import orphan_legs, trial_balance, unbalanced_entries
from app.servicing import service
from app.servicing.models import EventKind
from tests import factories

DAY = dt.date(2026, 1, 5)


def entry(key: str, amount: str = "10.00") -> NewEntry:
    return NewEntry(key=key, kind="test", value_date=DAY,
                    legs=balanced_legs(("bank_cash", "unapplied_funds", D(amount))))


def test_posting_twice_with_the_same_key_posts_once(db) -> None:
    first = post(db, [entry("k1")], posted_by="t")
    again = post(db, [entry("k1")], posted_by="t")
    assert first == again
    assert db.scalar(sa.select(sa.func.count()).select_from(JournalEntry)
                     .where(JournalEntry.idempotency_key == "k1")) == 1
    with pytest.raises(Conflict):
        post(db, [entry("k1", "11.00")], posted_by="t")



def test_a_key_declared_new_that_exists_is_refused_by_the_database(db) -> None:
    """``new=True`` skips the lookup, not the guarantee: the unique key refuses it."""
    post(db, [entry("k2")], posted_by="t")
    nested = db.begin_nested()
    # SQLAlchemy's error on SQLite; psycopg's own from PostgreSQL's COPY
    with pytest.raises((sa.exc.IntegrityError, psycopg.errors.UniqueViolation),
                       match="idempotency_key"):
        post(db, [entry("k2")], posted_by="t", new=True)
        db.flush()
    nested.rollback()
    assert db.scalar(sa.select(sa.func.count()).select_from(JournalEntry)
                     .where(JournalEntry.idempotency_key == "k2")) == 1

def _raw_entry(db, amounts: list[str]) -> int:
    """Write legs and entry row directly, bypassing the service's own check."""
    accounts = account_ids(db)
    (entry_id,) = allocate_ids(db, JournalEntry.__table__, 1, sequence=ENTRY_ID_SEQUENCE)
    for code, amount in zip(("bank_cash", "unapplied_funds"), amounts, strict=False):
        db.execute(sa.insert(JournalLeg).values(entry_id=entry_id, account_id=accounts[code],
                                                amount=D(amount)))
    db.execute(sa.insert(JournalEntry).values(id=entry_id, idempotency_key=f"raw{entry_id}",
                                              kind="test", value_date=DAY, posted_by="t"))
    return entry_id


def test_database_refuses_an_unbalanced_entry(db) -> None:
    nested = db.begin_nested()
    with pytest.raises(DBAPIError, match="balance"):
        _raw_entry(db, ["10.00", "-9.99"])
    nested.rollback()


def test_database_refuses_an_unbalanced_entry_among_many_in_one_statement(db) -> None:
    """PostgreSQL checks per statement: one bad entry in a bulk insert refuses it all."""
    accounts = account_ids(db)
    ids = allocate_ids(db, JournalEntry.__table__, 3, sequence=ENTRY_ID_SEQUENCE)
    legs = {ids[0]: ["10.00", "-10.00"], ids[1]: ["10.00", "-9.99"], ids[2]: ["5.00"]}
    nested = db.begin_nested()
    db.execute(sa.insert(JournalLeg), [
        {"entry_id": entry_id, "account_id": accounts[code], "amount": D(amount)}
        for entry_id, amounts in legs.items()
        for code, amount in zip(("bank_cash", "unapplied_funds"), amounts, strict=False)])
    with pytest.raises(DBAPIError, match="balance"):
        db.execute(sa.insert(JournalEntry).values([
            {"id": entry_id, "idempotency_key": f"bulk{entry_id}", "kind": "test",
             "value_date": DAY, "posted_by": "t"} for entry_id in ids]))
    nested.rollback()
    assert db.scalar(sa.select(sa.func.count()).select_from(JournalEntry)
                     .where(JournalEntry.id.in_(ids))) == 0


def test_database_refuses_an_entry_of_one_leg(db) -> None:
    nested = db.begin_nested()
    with pytest.raises(DBAPIError, match="balance"):
        _raw_entry(db, ["0.00"])
    nested.rollback()


def test_verify_sums_the_legs_to_the_fen(db) -> None:
    """Legs whose entry row is not written yet (the database checks an entry only
    then): the verify totals are their sums as Decimal fen, and 0.00 over no legs."""
    assert str(trial_balance(db)) == "0.00"
    assert unbalanced_entries(db) == []
    accounts = account_ids(db)
    (entry_id,) = allocate_ids(db, JournalEntry.__table__, 1, sequence=ENTRY_ID_SEQUENCE)
    nested = db.begin_nested()
    db.execute(sa.insert(JournalLeg), [  # 0.10 + 0.20 is 0.30000000000000004 in a REAL
        {"entry_id": entry_id, "account_id": accounts["bank_cash"], "amount": D("0.10")},
        {"entry_id": entry_id, "account_id": accounts["unapplied_funds"], "amount": D("0.20")}])
    assert [(i, str(total)) for i, total in unbalanced_entries(db)] == [(entry_id, "0.30")]
    assert str(trial_balance(db)) == "0.30"
    nested.rollback()


def test_database_refuses_changing_a_posted_entry(db) -> None:
    entry_id = _raw_entry(db, ["10.00", "-10.00"])
    accounts = account_ids(db)
    statements = [
        sa.insert(JournalLeg).values(entry_id=entry_id, account_id=accounts["bank_cash"],
                                     amount=D("0.00")),
        sa.update(JournalLeg).where(JournalLeg.entry_id == entry_id).values(amount=D("5.00")),
        sa.delete(JournalLeg).where(JournalLeg.entry_id == entry_id),
        sa.update(JournalEntry).where(JournalEntry.id == entry_id).values(memo="edited"),
        sa.delete(JournalEntry).where(JournalEntry.id == entry_id),
    ]
    for statement in statements:
        nested = db.begin_nested()
        with pytest.raises(DBAPIError):
            db.execute(statement)
        nested.rollback()


def test_database_refuses_a_leg_of_an_unknown_account(db) -> None:
    (entry_id,) = allocate_ids(db, JournalEntry.__table__, 1, sequence=ENTRY_ID_SEQUENCE)
    unknown = db.scalar(sa.select(sa.func.max(Account.id))) + 1
    nested = db.begin_nested()
    with pytest.raises(DBAPIError, match="account"):
        db.execute(sa.insert(JournalLeg), [
            {"entry_id": entry_id, "account_id": account_id, "amount": D(amount)}
            for account_id, amount in ((account_ids(db)["bank_cash"], "1.00"),
                                       (unknown, "-1.00"))])
    nested.rollback()


def test_an_account_with_legs_is_kept(db) -> None:
    _raw_entry(db, ["10.00", "-10.00"])
    cash = db.get_one(Account, account_ids(db)["bank_cash"])
    for statement in (sa.delete(Account).where(Account.id == cash.id),
                      sa.update(Account).where(Account.id == cash.id).values(id=cash.id + 1000)):
        nested = db.begin_nested()
        with pytest.raises(DBAPIError, match="account"):
            db.execute(statement)
        nested.rollback()
    # An account nothing was booked to can go.
    db.execute(sa.insert(Account).values(code="test_spare", name="spare", type="asset"))
    db.execute(sa.delete(Account).where(Account.code == "test_spare"))
    assert "test_spare" not in account_ids(db)


def test_legs_without_their_entry_row_are_counted(db) -> None:
    """No foreign key refuses them (migration 0017): ``post`` writes an entry's
    legs and row together, and ``loans ledger verify`` counts what is left."""
    assert orphan_legs(db) == 0
    (entry_id,) = allocate_ids(db, JournalEntry.__table__, 1, sequence=ENTRY_ID_SEQUENCE)
    accounts = account_ids(db)
    db.execute(sa.insert(JournalLeg), [
        {"entry_id": entry_id, "account_id": accounts[code], "amount": D(amount)}
        for code, amount in (("bank_cash", "3.00"), ("unapplied_funds", "-3.00"))])
    assert orphan_legs(db) == 2


def test_ledger_verify_names_a_loan_whose_ledger_differs(tmp_path: Path, monkeypatch) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'verify.db'}")
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    runner = CliRunner()
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    with cli.cli_session() as session:
        loan = factories.make_loan(session)
        service.record_event(session, Principal.operator("t"), loan,
                             kind=EventKind.disbursement, event_date=dt.date(2025, 9, 1),
                             amount=D("6000.00"))
        contract_no = loan.contract_no
    ok = runner.invoke(cli.app, ["ledger", "verify"])
    assert ok.exit_code == 0, ok.output
    with cli.cli_session() as session:  # a stray entry moving principal on the loan
        loan_id = session.scalar(sa.select(JournalEntry.loan_id).where(
            JournalEntry.loan_id.is_not(None)))
        post(session, [NewEntry(key="stray", kind="test", value_date=DAY, loan_id=loan_id,
                                legs=balanced_legs(("principal_unbilled", "bank_cash", D("1.00")),
                                                   loan_id=loan_id))], posted_by="t")
    bad = runner.invoke(cli.app, ["ledger", "verify"])
    assert bad.exit_code == 1
    assert f"({contract_no}) principal_unbilled: ledger 6001.00, engine 6000.00" in bad.output
