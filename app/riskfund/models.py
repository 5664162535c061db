"""A year's risk-compensation fund under one agreement, and each university's share.

The yearly job computes the fund (status ``computed``); the center confirms
the year's disbursements, which freezes the figures and books what finance
and the universities owe the bank (``confirmed``); the payment to the bank
is booked last (``paid``).  Figures are never changed after confirmation.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import ID_TYPE, MONEY, RATE, Base, CreatedAt, IdPk, enum_type


class FundStatus(enum.StrEnum):
    computed = "computed"
    confirmed = "confirmed"
    paid = "paid"


class RiskFund(Base):
    __tablename__ = "risk_funds"
    __table_args__ = (sa.UniqueConstraint("agreement_id", "year"),)

    id: Mapped[IdPk]
    agreement_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("agreements.id"))
    year: Mapped[int] = mapped_column(sa.Integer)
    rate: Mapped[Decimal] = mapped_column(RATE)
    # The policy version whose [risk_compensation] tiers weighted the shares.
    policy_code: Mapped[str] = mapped_column(sa.String(20))
    disbursed: Mapped[Decimal] = mapped_column(MONEY)
    fund: Mapped[Decimal] = mapped_column(MONEY)
    finance_half: Mapped[Decimal] = mapped_column(MONEY)
    universities_half: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[FundStatus] = mapped_column(enum_type(FundStatus, "risk_fund_status"))
    computed_on: Mapped[dt.date] = mapped_column(sa.Date)
    confirmed_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    confirmed_by: Mapped[str | None] = mapped_column(sa.String(200))
    paid_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    confirmation_entry_id: Mapped[int | None] = mapped_column(
        ID_TYPE, sa.ForeignKey("journal_entries.id"))
    payment_entry_id: Mapped[int | None] = mapped_column(
        ID_TYPE, sa.ForeignKey("journal_entries.id"))
    created_at: Mapped[CreatedAt]


class RiskFundShare(Base):
    """One university's part of the universities' half."""

    __tablename__ = "risk_fund_shares"
    __table_args__ = (sa.UniqueConstraint("fund_id", "university_id"),)

    id: Mapped[IdPk]
    fund_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("risk_funds.id"), index=True)
    university_id: Mapped[int] = mapped_column(
        ID_TYPE, sa.ForeignKey("universities.id"), index=True)
    disbursed: Mapped[Decimal] = mapped_column(MONEY)
    # Its graduates' record on the fund year's last day (the center's
    # university-performance report): loans whose borrower graduated or left
    # school by then, of which reportable defaults; the rate picks the tier.
    graduates: Mapped[int] = mapped_column(sa.Integer)
    defaults: Mapped[int] = mapped_column(sa.Integer)
    multiplier: Mapped[Decimal] = mapped_column(RATE)
    share: Mapped[Decimal] = mapped_column(MONEY)
