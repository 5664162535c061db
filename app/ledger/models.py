"""Accounts, journal entries and their legs.

Every money movement is one entry whose legs sum to zero (debit positive,
credit negative, yuan).  The database enforces it, not only this code (see
the ledger migration): legs are written first and the entry row last; a
trigger refuses the entry row unless its legs balance, refuses legs for an
entry already written, and refuses any update or delete of either table.
History is never edited: a correction is a new entry that reverses an old
one (``reverses_entry_id``).
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import ID_TYPE, MONEY, Base, CreatedAt, IdPk, enum_type


class AccountType(enum.StrEnum):
    asset = "asset"
    liability = "liability"
    income = "income"
    expense = "expense"
    equity = "equity"


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[IdPk]
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    type: Mapped[AccountType] = mapped_column(enum_type(AccountType, "account_type"))


class JournalEntry(Base):
    __tablename__ = "journal_entries"
    __table_args__ = (sa.Index("ix_journal_entries_loan_id_slot", "loan_id", "slot"),)

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=False)
    # Chosen by the poster; a retry with the same key finds the first entry.
    idempotency_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(30))
    value_date: Mapped[dt.date] = mapped_column(sa.Date)
    loan_id: Mapped[int | None] = mapped_column(ID_TYPE, sa.ForeignKey("loans.id"))
    # What the entry books for its loan (e.g. "bill:2028-12-20", "pay:17"):
    # servicing compares the engine's decisions with the entries by slot.
    slot: Mapped[str | None] = mapped_column(sa.String(60))
    reverses_entry_id: Mapped[int | None] = mapped_column(
        ID_TYPE, sa.ForeignKey("journal_entries.id"), unique=True
    )
    memo: Mapped[str] = mapped_column(sa.String(200), default="")
    posted_by: Mapped[str] = mapped_column(sa.String(200))
    posted_at: Mapped[CreatedAt]


class JournalLeg(Base):
    __tablename__ = "journal_legs"
    __table_args__ = (sa.Index("ix_journal_legs_loan_id_account_id", "loan_id", "account_id"),)

    id: Mapped[IdPk]
    # No foreign keys (checked per row, they were a third of a due day's
    # database work): the database refuses a leg naming an unknown account or
    # a posted entry once per statement, and ``loans ledger verify`` counts
    # legs whose entry row was never written (migration 0017).
    entry_id: Mapped[int] = mapped_column(ID_TYPE, index=True)
    account_id: Mapped[int] = mapped_column(ID_TYPE)
    loan_id: Mapped[int | None] = mapped_column(ID_TYPE)
    amount: Mapped[Decimal] = mapped_column(MONEY)  # debit > 0, credit < 0

