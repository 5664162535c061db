"""The bulk helpers of app.db: many values as one parameter, sparse lookups,
rows written as they come, ids drawn ahead, rows updated in bulk (both
databases)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.bankfiles.models import BankLine
from app.clock import now_utc
from app.db import allocate_ids, copy_rows, one_of, row_writer, sparse_rows, update_rows
from app.ledger.models import Account
from app.servicing.models import Borrower, Loan
from tests import factories

CODES = ["bank_cash", "interest_income", "no such code", 'odd "quoted" \\ code']


def test_one_of_many_values(db: Session) -> None:
    found = db.scalars(sa.select(Account.code).where(one_of(db, Account.code, CODES)))
    assert sorted(found) == ["bank_cash", "interest_income"]
    ids = db.scalars(sa.select(Account.id).where(Account.code.in_(CODES))).all()
    assert sorted(db.scalars(sa.select(Account.id).where(one_of(db, Account.id, ids)))) == \
        sorted(ids)


@pytest.mark.parametrize("names", [
    ['quote " and backslash \\', "comma, {braces} and spaces", "tab\there", "中文", "NULL", ""],
    ["comma, {braces} and spaces", "中文", "NULL", "", " padded "],  # nothing to escape
])
def test_one_of_finds_any_text(db: Session, names: list[str]) -> None:
    columns = ("name", "id_number", "id_number_hash", "created_at")
    with row_writer(db, Borrower.__table__, columns) as write:
        for n, name in enumerate(names):
            write((name, f"ID{n}", f"hash-text-{n}", now_utc()))
    found = db.scalars(sa.select(Borrower.name).where(one_of(db, Borrower.name, names)))
    assert sorted(found) == sorted(names)


def test_sparse_rows_scans_the_range_then_looks_up(db: Session) -> None:
    query = sa.select(Account.code, Account.type)
    # Nothing between the smallest and largest value: nothing looked up.
    assert sparse_rows(db, query, Account.code, ["zz1", "zz2"]) == []
    # The range holds what is looked for, and no more than that.
    assert [r.code for r in sparse_rows(db, query, Account.code, ["bank_cash"])] == [
        "bank_cash"]
    # The range holds more entries than values: each value is looked up.
    rows = sparse_rows(db, query, Account.code, ["bank_cash", "unapplied_funds"])
    assert sorted(r.code for r in rows) == ["bank_cash", "unapplied_funds"]
    assert sparse_rows(db, query, Account.code, ["bank_cash"],
                       within=Account.type == "income") == []


def test_sparse_rows_takes_a_bytewise_columns_range_ends_itself(db: Session) -> None:
    """Transaction ids ordered byte by byte: "Z" before "a" before "é", so the
    range of ["a-2", "Z-3"] holds both (and "B-1" lies outside it)."""
    keys = ["B-1", "a-2", "Z-3", "é-4"]
    copy_rows(db, BankLine.__table__, ("upload_id", "bank_id", "line_no", "type", "bank_txn_id",
                                       "contract_no", "amount_text", "value_date_text",
                                       "txn_key", "outcome"),
              [(1, 1, n, "REPAY", key, "C1", "1.00", "2026-01-20", key, "posted")
               for n, key in enumerate(keys, 1)])
    query = sa.select(BankLine.txn_key, BankLine.line_no)

    def found(values: list[str]) -> list[tuple[str, int]]:
        return sorted(tuple(r) for r in sparse_rows(db, query, BankLine.txn_key, values,
                                                    within=BankLine.bank_id == 1, bytewise=True))

    assert found(["a-2", "Z-3"]) == [("Z-3", 3), ("a-2", 2)]
    assert found(["é-4", "zz"]) == [("é-4", 4)]
    assert found(["C-0", "Y-0"]) == []  # between "B-1" and "Z-3": none of them


def test_row_writer_and_allocated_ids(db: Session) -> None:
    ids = allocate_ids(db, Borrower.__table__, 3)
    assert len(set(ids)) == 3
    columns = ("id", "name", "id_number", "id_number_hash", "created_at")
    with row_writer(db, Borrower.__table__, columns) as write:
        for n, borrower_id in enumerate(ids):
            write((borrower_id, f"学生{n}", f"ID{n}", f"hash{n}", now_utc()))
    db.expire_all()
    assert [db.get(Borrower, i).id_number for i in ids] == ["ID0", "ID1", "ID2"]
    assert allocate_ids(db, Borrower.__table__, 1)[0] > max(ids)


def test_update_rows_moves_an_earlier_column_only_back(db: Session) -> None:
    loans = [factories.make_loan(db) for _ in range(3)]
    for loan, stored in zip(loans, (None, dt.date(2027, 1, 10), dt.date(2027, 1, 30)),
                            strict=True):
        loan.dirty_from = stored
    db.flush()
    update_rows(db, Loan.__table__, "id",
                [{"id": loan.id, "dirty_from": dt.date(2027, 1, 20)} for loan in loans],
                earlier=frozenset({"dirty_from"}))
    db.expire_all()
    assert [db.get_one(Loan, loan.id).dirty_from for loan in loans] == [
        dt.date(2027, 1, 20), dt.date(2027, 1, 10), dt.date(2027, 1, 20)]
