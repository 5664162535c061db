"""Origination: quotas, applications and their yearly amounts, submission
batches, bank decisions, contract years, contact address reports.

The signed contract itself is the serviced ``app.servicing.models.Loan``;
``ContractYear`` adds its amounts per academic year and what was disbursed.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import ID_TYPE, MONEY, Base, CreatedAt, IdPk, UTCDateTime, enum_type
from app.reference.models import StudentCategory


class Quota(Base):
    """A university's loan quota (借款总额包干) for one academic year.

    ``consumed`` only ever moves through a guarded conditional UPDATE
    (``service.consume_quota``); the CHECK constraints are the last line.
    """

    __tablename__ = "quotas"
    __table_args__ = (
        sa.UniqueConstraint("university_id", "academic_year"),
        sa.CheckConstraint("consumed >= 0", name="consumed_not_negative"),
        sa.CheckConstraint("consumed <= actual", name="consumed_within_actual"),
        sa.CheckConstraint("base >= 0 AND actual >= 0", name="amounts_not_negative"),
    )

    id: Mapped[IdPk]
    university_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("universities.id"))
    academic_year: Mapped[str] = mapped_column(sa.String(9))
    policy_code: Mapped[str] = mapped_column(sa.String(20))
    # Eligible full-time head count the base was computed from.
    enrolment: Mapped[int] = mapped_column(sa.Integer)
    base: Mapped[Decimal] = mapped_column(MONEY)
    actual: Mapped[Decimal] = mapped_column(MONEY)
    consumed: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    # The center's last adjustment of ``actual`` (earlier ones are in the audit log).
    adjustment_reason: Mapped[str | None] = mapped_column(sa.Text)
    adjusted_by: Mapped[str | None] = mapped_column(sa.String(200))
    adjusted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[CreatedAt]


class ApplicationStatus(enum.StrEnum):
    received = "received"  # taken by the aid office
    vetted = "vetted"  # eligibility and materials checked (资格及材料审查)
    submitted = "submitted"  # on a batch list sent to the bank
    approved = "approved"
    rejected = "rejected"
    contracted = "contracted"


class Application(Base):
    """A student's application, taken by the university's aid office."""

    __tablename__ = "applications"
    __table_args__ = (
        sa.Index("ix_applications_university_id_id", "university_id", "id"),
        sa.Index("ix_applications_bank_id_id", "bank_id", "id"),
    )

    id: Mapped[IdPk]
    university_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("universities.id"))
    center_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("centers.id"), index=True)
    academic_year: Mapped[str] = mapped_column(sa.String(9))
    # The student (name and citizen ID number live only on the borrower row).
    borrower_id: Mapped[int] = mapped_column(
        ID_TYPE, sa.ForeignKey("borrowers.id"), index=True
    )
    category: Mapped[StudentCategory] = mapped_column(
        enum_type(StudentCategory, "student_category")
    )
    full_time: Mapped[bool] = mapped_column(sa.Boolean)
    enrolled_on: Mapped[dt.date] = mapped_column(sa.Date)
    expected_graduation_on: Mapped[dt.date] = mapped_column(sa.Date)
    phone: Mapped[str] = mapped_column(sa.String(30))
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    materials_complete: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    status: Mapped[ApplicationStatus] = mapped_column(
        enum_type(ApplicationStatus, "application_status"), default=ApplicationStatus.received
    )
    vetted_by: Mapped[str | None] = mapped_column(sa.String(200))
    batch_id: Mapped[int | None] = mapped_column(
        ID_TYPE, sa.ForeignKey("batches.id"), index=True
    )
    # The bank of the batch it was submitted to (scoping for banks).
    bank_id: Mapped[int | None] = mapped_column(ID_TYPE, sa.ForeignKey("banks.id"))
    loan_id: Mapped[int | None] = mapped_column(
        ID_TYPE, sa.ForeignKey("loans.id"), unique=True
    )
    created_at: Mapped[CreatedAt]


class ApplicationYear(Base):
    """The amount asked for one academic year of an application.

    ``live`` is True while the application is not rejected and NULL after:
    the unique constraint then allows one live amount per borrower and year
    (so at most the per-year cap), enforced by the database.
    """

    __tablename__ = "application_years"
    __table_args__ = (
        sa.UniqueConstraint("application_id", "academic_year"),
        sa.UniqueConstraint("borrower_id", "academic_year", "live"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("live IS NULL OR live", name="live_true_or_null"),
    )

    id: Mapped[IdPk]
    application_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("applications.id"))
    academic_year: Mapped[str] = mapped_column(sa.String(9))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    borrower_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("borrowers.id"))
    live: Mapped[bool | None] = mapped_column(sa.Boolean, default=True)


class Batch(Base):
    """A list of vetted applications submitted to the bank of the university's
    center agreement; the bank decides each by ``deadline_on`` (working days)."""

    __tablename__ = "batches"

    id: Mapped[IdPk]
    university_id: Mapped[int] = mapped_column(
        ID_TYPE, sa.ForeignKey("universities.id"), index=True
    )
    center_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("centers.id"), index=True)
    bank_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("banks.id"), index=True)
    agreement_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("agreements.id"))
    submitted_on: Mapped[dt.date] = mapped_column(sa.Date)
    deadline_working_days: Mapped[int] = mapped_column(sa.Integer)
    deadline_on: Mapped[dt.date] = mapped_column(sa.Date)
    submitted_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[CreatedAt]


class DecisionKind(enum.StrEnum):
    approved = "approved"
    rejected = "rejected"


class Decision(Base):
    """The bank's approval or rejection of one application."""

    __tablename__ = "decisions"

    id: Mapped[IdPk]
    application_id: Mapped[int] = mapped_column(
        ID_TYPE, sa.ForeignKey("applications.id"), unique=True
    )
    decision: Mapped[DecisionKind] = mapped_column(enum_type(DecisionKind, "decision_kind"))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    decided_on: Mapped[dt.date] = mapped_column(sa.Date)
    deadline_on: Mapped[dt.date] = mapped_column(sa.Date)
    late: Mapped[bool] = mapped_column(sa.Boolean)
    decided_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[CreatedAt]


class ContractYear(Base):
    """A contract's amount for one academic year and what has been disbursed."""

    __tablename__ = "contract_years"
    __table_args__ = (
        sa.UniqueConstraint("loan_id", "academic_year"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("disbursed >= 0 AND disbursed <= amount", name="disbursed_within"),
    )

    id: Mapped[IdPk]
    loan_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("loans.id"))
    academic_year: Mapped[str] = mapped_column(sa.String(9))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    disbursed: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))


class AddressKind(enum.StrEnum):
    employment = "employment"  # first employment's contact address
    family = "family"  # not employed: the family address


class AddressReport(Base):
    """The contact address the university reports within a year of graduation
    (1年内提供第一次就业的有效联系地址, or the family address)."""

    __tablename__ = "address_reports"

    id: Mapped[IdPk]
    loan_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("loans.id"), index=True)
    kind: Mapped[AddressKind] = mapped_column(enum_type(AddressKind, "address_kind"))
    employer: Mapped[str] = mapped_column(sa.String(200), default="")
    address: Mapped[str] = mapped_column(sa.String(300))
    phone: Mapped[str] = mapped_column(sa.String(30), default="")
    reported_on: Mapped[dt.date] = mapped_column(sa.Date)
    graduated_on: Mapped[dt.date] = mapped_column(sa.Date)
    late: Mapped[bool] = mapped_column(sa.Boolean)
    reported_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[CreatedAt]
