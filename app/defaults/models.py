"""The bank's default reports and the per-date snapshots of the default list.

A snapshot freezes, for one business date, which loans were reportable
defaults and their facts as the engine computed them that night.  Exports of
that date read it with one set-based query instead of running the engine per
loan; a loan with an event recorded after the snapshot and dated on or before
its date is recomputed by the engine when read (see ``figures``), so a
snapshot never disagrees with the engine.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import ID_TYPE, MONEY, Base, CreatedAt, IdPk, UTCDateTime


class DefaultReport(Base):
    """The bank's report of a defaulter to the management center (报送违约).

    Name, ID number and university are the borrower's and loan's own rows
    (the ID number lives only in ``borrowers``); the default behaviour is
    kept as reported on ``reported_on``.
    """

    __tablename__ = "default_reports"
    __table_args__ = (sa.UniqueConstraint("loan_id", "reported_on"),)

    id: Mapped[IdPk]
    loan_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("loans.id"), index=True)
    reported_on: Mapped[dt.date] = mapped_column(sa.Date)
    arrears_run_start: Mapped[dt.date] = mapped_column(sa.Date)
    arrears_days: Mapped[int] = mapped_column(sa.Integer)
    days_past_due: Mapped[int] = mapped_column(sa.Integer)
    overdue_principal: Mapped[Decimal] = mapped_column(MONEY)
    overdue_interest: Mapped[Decimal] = mapped_column(MONEY)
    penalty_accrued: Mapped[Decimal] = mapped_column(MONEY)
    principal_outstanding: Mapped[Decimal] = mapped_column(MONEY)
    reported_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[CreatedAt]


class DefaultSnapshot(Base):
    """A business date whose default list was frozen (possibly empty)."""

    __tablename__ = "default_snapshots"

    business_date: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    taken_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    loans: Mapped[int] = mapped_column(sa.Integer)


class DefaultSnapshotRow(Base):
    __tablename__ = "default_snapshot_rows"

    business_date: Mapped[dt.date] = mapped_column(
        sa.Date, sa.ForeignKey("default_snapshots.business_date"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("loans.id"), primary_key=True)
    arrears_run_start: Mapped[dt.date] = mapped_column(sa.Date)
    arrears_days: Mapped[int] = mapped_column(sa.Integer)
    days_past_due: Mapped[int] = mapped_column(sa.Integer)
    overdue_principal: Mapped[Decimal] = mapped_column(MONEY)
    overdue_interest: Mapped[Decimal] = mapped_column(MONEY)
    penalty_accrued: Mapped[Decimal] = mapped_column(MONEY)
    principal_outstanding: Mapped[Decimal] = mapped_column(MONEY)
