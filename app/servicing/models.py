"""A serviced loan (the signed contract) and the dated events of its life.

Events are facts, never edited: a reversed payment stays, marked by the
reversal event that names it, and the engine simply leaves it out.  The
figures cached on ``Loan`` (``serviced_through`` and the delinquency
columns) are what the last servicing run decided as of ``serviced_through``
(days past due grow by themselves after it: as-of date minus the oldest
unpaid due date, and so does the penalty, by ``acc_penalty_per_day``); they
answer for an as-of date up to the day before ``next_action_on`` (the
default list reads them so); any other as-of question is answered by running
the engine over the events again.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Unmapped, mapped_column, unmapped_column, validates

from app.db import (
    BYTEWISE_TEXT,
    ID_TYPE,
    MONEY,
    RATE,
    Base,
    CreatedAt,
    ExactDecimal,
    IdPk,
    bytewise_text,
    enum_type,
)
from app.privacy.types import IdNumber, lookup_hash_of


class EventKind(enum.StrEnum):
    disbursement = "disbursement"
    graduation = "graduation"
    withdrawal = "withdrawal"  # 终止学业: serviced as a graduation on its date
    continued_study_start = "continued_study_start"
    plan = "plan"
    payment = "payment"
    payment_reversal = "payment_reversal"  # 冲正: names the payment it undoes
    contact = "contact"
    rate_change = "rate_change"
    # 代偿: the center approved a hardship-service case; the state pays the
    # payoff amount on the event date from the forgiveness fund.
    forgiveness = "forgiveness"


class Borrower(Base):
    """A student who borrows: one row per citizen ID number.

    The ID number is encrypted at rest (``app.privacy``); ``id_number_hash``,
    its keyed hash, is what is unique and what ``Borrower.id_number == n``
    compares, so callers read, write and look it up as plain text.
    """

    __tablename__ = "borrowers"

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(sa.String(100))
    id_number: Mapped[str] = mapped_column(IdNumber(hash_column="id_number_hash"))
    id_number_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[CreatedAt]

    @validates("id_number")
    def _hash_id_number(self, _key: str, value: str) -> str:
        self.id_number_hash = lookup_hash_of(value)
        return value


class Loan(Base):
    """One student's contract with a bank, as serviced."""

    __tablename__ = "loans"
    __table_args__ = (
        sa.Index("ix_loans_bank_id_id", "bank_id", "id"),
        sa.Index("ix_loans_university_id_id", "university_id", "id"),
    )

    id: Mapped[IdPk]
    contract_no: Mapped[str] = mapped_column(bytewise_text(40), unique=True)
    bank_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("banks.id"))
    university_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("universities.id"))
    center_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("centers.id"), index=True)
    agreement_id: Mapped[int | None] = mapped_column(ID_TYPE, sa.ForeignKey("agreements.id"))
    borrower_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("borrowers.id"), index=True)
    # The borrower's ID-number lookup hash, kept here by the database (migration
    # 0020), so matching a bank file's line to its loan and borrower is one
    # index probe, not two.  A column of the table only (``Loan.__table__``):
    # the application never writes it and no entity, audit record or answer
    # carries it.
    borrower_hash: Unmapped[str] = unmapped_column(sa.String(64), server_default="")
    policy_code: Mapped[str] = mapped_column(sa.String(20))
    annual_rate: Mapped[Decimal] = mapped_column(RATE)
    penalty_markup: Mapped[Decimal] = mapped_column(RATE)
    subsidy_settlement: Mapped[str] = mapped_column(sa.String(10))
    signed_on: Mapped[dt.date] = mapped_column(sa.Date)
    created_at: Mapped[CreatedAt]
    # What the last servicing run decided (the engine's state at serviced_through).
    serviced_through: Mapped[dt.date | None] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(12), default="in_school")
    principal_outstanding: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    overdue_principal: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    overdue_interest: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    days_past_due: Mapped[int] = mapped_column(sa.Integer, default=0)
    arrears_run_start: Mapped[dt.date | None] = mapped_column(sa.Date)
    default_reportable: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # The machine's exact penalty accumulator (yuan·days, i.e. ×360, unrounded)
    # and what each day after serviced_through adds to it until next_action_on:
    # the penalty accrued on any as-of date in between, without the engine
    # (``app.engine.state.penalty_after``; the default list reads it).
    acc_penalty: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    acc_penalty_per_day: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    # The earliest event date recorded since the last run: servicing must
    # recompute from there (a backdated payment or status event).
    dirty_from: Mapped[dt.date | None] = mapped_column(sa.Date, index=True)
    # The first date after serviced_through on which the rules post something
    # or change the figures above (``LoanMachine.next_action``); None when
    # nothing happens until a new event.  The nightly job selects loans by it,
    # so an ordinary day touches no loan row.
    next_action_on: Mapped[dt.date | None] = mapped_column(sa.Date, index=True)


class LoanEngineState(Base):
    """The engine's machine for the loan at the end of ``through`` (see
    app.engine.snapshot): the nightly job resumes it instead of replaying the
    loan's life.  A cache of what the events imply, rewritten by every run."""

    __tablename__ = "loan_engine_states"

    loan_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("loans.id"), primary_key=True)
    through: Mapped[dt.date] = mapped_column(sa.Date)
    machine: Mapped[str] = mapped_column(sa.Text)


class LoanEvent(Base):
    __tablename__ = "loan_events"
    __table_args__ = (
        sa.Index("ix_loan_events_loan_id_event_date", "loan_id", "event_date"),
        # Reports find the events recorded after a default-list snapshot.
        sa.Index("ix_loan_events_created_at", "created_at"),
    )

    id: Mapped[IdPk]
    loan_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("loans.id"))
    kind: Mapped[EventKind] = mapped_column(enum_type(EventKind, "loan_event_kind"))
    event_date: Mapped[dt.date] = mapped_column(sa.Date)
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    # Kind-specific facts: plan terms, the new rate, contact channel and
    # initiator, proof reference, academic year of a disbursement.
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    reverses_event_id: Mapped[int | None] = mapped_column(
        ID_TYPE, sa.ForeignKey("loan_events.id"), unique=True
    )
    # Where it came from: "api", or "bankfile:<upload id>"; a bank's own
    # reference (bank_txn_id) for payments.
    source: Mapped[str] = mapped_column(sa.String(40), default="api")
    external_ref: Mapped[str | None] = mapped_column(BYTEWISE_TEXT, index=True)
    recorded_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[CreatedAt]
