"""Subsidy statements: what a bank claims from one finance level for one settlement date.

A statement is keyed by bank, center and settlement date (unique).  Its
center decides the paying finance level: the national center's universities
are paid by central finance, a provincial center's by that province's, so
one provincial statement per province keeps each payer's claim separate.

Each line is one loan's change in claimed subsidy for one engine claim date:
``claim`` for the statement's own settlement date, ``adjustment`` for an
earlier date (a late change such as a backdated graduation, or a claim
booked after its date's statement).  Summing a loan's lines for a claim date
over all statements gives the engine's claim for that date: nothing paid is
ever edited.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import ID_TYPE, MONEY, Base, CreatedAt, IdPk, enum_type


class FinanceLevel(enum.StrEnum):
    central = "central"
    provincial = "provincial"


class StatementStatus(enum.StrEnum):
    issued = "issued"
    approved = "approved"
    paid = "paid"


class LineKind(enum.StrEnum):
    claim = "claim"
    adjustment = "adjustment"


class SubsidyStatement(Base):
    __tablename__ = "subsidy_statements"
    __table_args__ = (sa.UniqueConstraint("bank_id", "center_id", "settlement_date"),)

    id: Mapped[IdPk]
    bank_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("banks.id"), index=True)
    center_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("centers.id"), index=True)
    finance_level: Mapped[FinanceLevel] = mapped_column(enum_type(FinanceLevel, "finance_level"))
    settlement_date: Mapped[dt.date] = mapped_column(sa.Date)
    claims_total: Mapped[Decimal] = mapped_column(MONEY)
    adjustments_total: Mapped[Decimal] = mapped_column(MONEY)
    total: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[StatementStatus] = mapped_column(
        enum_type(StatementStatus, "statement_status"), default=StatementStatus.issued
    )
    approved_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    approved_by: Mapped[str | None] = mapped_column(sa.String(200))
    paid_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    payment_entry_id: Mapped[int | None] = mapped_column(
        ID_TYPE, sa.ForeignKey("journal_entries.id")
    )
    created_at: Mapped[CreatedAt]


class SubsidyStatementLine(Base):
    __tablename__ = "subsidy_statement_lines"
    __table_args__ = (
        sa.UniqueConstraint("statement_id", "loan_id", "claim_date"),
        sa.Index("ix_subsidy_statement_lines_loan_id_claim_date", "loan_id", "claim_date"),
    )

    id: Mapped[IdPk]
    statement_id: Mapped[int] = mapped_column(
        ID_TYPE, sa.ForeignKey("subsidy_statements.id"), index=True
    )
    loan_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("loans.id"))
    kind: Mapped[LineKind] = mapped_column(enum_type(LineKind, "statement_line_kind"))
    # The engine's settlement date whose claim this line books (or corrects).
    claim_date: Mapped[dt.date] = mapped_column(sa.Date)
    # Claimed on earlier statements for this loan and date; the engine's claim now.
    previously_claimed: Mapped[Decimal] = mapped_column(MONEY)
    claim_amount: Mapped[Decimal] = mapped_column(MONEY)
    amount: Mapped[Decimal] = mapped_column(MONEY)  # claim_amount − previously_claimed
