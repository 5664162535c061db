"""Centers, universities, banks, cooperation agreements, enrolment."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import ID_TYPE, RATE, Base, CreatedAt, IdPk, enum_type


class CenterLevel(enum.StrEnum):
    national = "national"
    provincial = "provincial"


class SubsidySettlement(enum.StrEnum):
    monthly = "monthly"
    quarterly = "quarterly"
    annual = "annual"


class StudentCategory(enum.StrEnum):
    """Eligible borrower categories (policy.md "Reference data")."""

    undergraduate = "undergraduate"
    junior_college = "junior_college"  # 专科, including higher vocational (高职)
    graduate = "graduate"
    second_bachelor = "second_bachelor"


class Center(Base):
    """Loan management center: one national, one per province."""

    __tablename__ = "centers"
    __table_args__ = (
        sa.CheckConstraint(
            "(level = 'national' AND province_code IS NULL)"
            " OR (level = 'provincial' AND province_code IS NOT NULL)",
            name="province_code_matches_level",
        ),
    )

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    level: Mapped[CenterLevel] = mapped_column(enum_type(CenterLevel, "center_level"))
    # GB/T 2260 two-digit province code, e.g. "11" Beijing; provincial centers only.
    province_code: Mapped[str | None] = mapped_column(sa.String(2), unique=True)
    created_at: Mapped[CreatedAt]


class University(Base):
    __tablename__ = "universities"
    __table_args__ = (sa.CheckConstraint("staff_count >= 0", name="staff_count_not_negative"),)

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(sa.String(200))
    # Ministry of Education institution code (学校标识码).
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    # The center of the university's affiliation (隶属关系).
    center_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("centers.id"), index=True)
    staff_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[CreatedAt]


class Bank(Base):
    __tablename__ = "banks"

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    created_at: Mapped[CreatedAt]


class Agreement(Base):
    """Cooperation agreement (贷款合作协议) between a center and a bank for a period."""

    __tablename__ = "agreements"
    __table_args__ = (
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"
        ),
        sa.CheckConstraint(
            "approval_deadline_working_days > 0", name="approval_deadline_positive"
        ),
        sa.CheckConstraint(
            "risk_compensation_rate >= 0 AND risk_compensation_rate <= 1",
            name="risk_compensation_rate_fraction",
        ),
    )

    id: Mapped[IdPk]
    center_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("centers.id"), index=True)
    bank_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("banks.id"), index=True)
    valid_from: Mapped[dt.date] = mapped_column(sa.Date)
    valid_to: Mapped[dt.date | None] = mapped_column(sa.Date)  # inclusive; None: open-ended
    approval_deadline_working_days: Mapped[int] = mapped_column(sa.Integer)
    # Fraction of the year's disbursed amount paid into the fund, set at tender.
    risk_compensation_rate: Mapped[Decimal] = mapped_column(RATE)
    subsidy_settlement: Mapped[SubsidySettlement] = mapped_column(
        enum_type(SubsidySettlement, "subsidy_settlement")
    )
    # The contract rate rule, as the agreement words it.
    rate_rule: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[CreatedAt]


class Enrolment(Base):
    """Head count of one university, academic year, category and mode of study."""

    __tablename__ = "enrolment"
    __table_args__ = (
        sa.UniqueConstraint("university_id", "academic_year", "category", "full_time"),
        sa.CheckConstraint("count >= 0", name="count_not_negative"),
    )

    id: Mapped[IdPk]
    university_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("universities.id"))
    academic_year: Mapped[str] = mapped_column(sa.String(9))  # "2024-2025"
    category: Mapped[StudentCategory] = mapped_column(
        enum_type(StudentCategory, "student_category")
    )
    full_time: Mapped[bool] = mapped_column(sa.Boolean)
    count: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[CreatedAt]


class CalendarYear(Base):
    """A year of the official working-day calendar published by the center from
    the State Council's notice (国务院办公厅关于部分节假日安排的通知), for a year
    the ``chinesecalendar`` library does not cover yet.  Days not listed follow
    the week: Monday to Friday work, Saturday and Sunday rest."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(sa.String(200))  # the notice it was taken from
    holidays: Mapped[list[str]] = mapped_column(sa.JSON)  # ISO dates off work
    workdays: Mapped[list[str]] = mapped_column(sa.JSON)  # ISO weekend dates worked (调休)
    published_by: Mapped[str] = mapped_column(sa.String(200))
    published_at: Mapped[CreatedAt]
