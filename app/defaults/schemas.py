"""API shapes of delinquency, default reports and the lists."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import Field

from app.schemas_common import Money, RequestModel, ResponseModel


class Delinquency(ResponseModel):
    loan_id: int
    as_of: dt.date
    status: str
    days_past_due: int
    bucket: str | None
    arrears_run_start: dt.date | None
    arrears_days: int
    overdue_principal: Money
    overdue_interest: Money
    penalty_accrued: Money
    principal_outstanding: Money
    default_reportable: bool


class DefaultReportIn(RequestModel):
    reported_on: dt.date


class DefaultFactsOut(ResponseModel):
    arrears_run_start: dt.date
    arrears_days: int
    days_past_due: int
    overdue_principal: Money
    overdue_interest: Money
    penalty_accrued: Money
    principal_outstanding: Money


class DefaultReportOut(DefaultFactsOut):
    id: int
    loan_id: int
    reported_on: dt.date
    reported_by: str


class DefaultListItem(ResponseModel):
    loan_id: int
    contract_no: str
    borrower_name: str
    id_number: str
    university_id: int
    university_name: str
    bank_id: int
    bank_name: str
    graduation_year: int | None
    arrears_run_start: dt.date
    arrears_days: int
    days_past_due: int
    overdue_principal: Money
    overdue_interest: Money
    penalty_accrued: Money
    overdue_total: Money
    principal_outstanding: Money


class ListTotals(ResponseModel):
    loans: int
    overdue_principal: Money
    overdue_interest: Money
    penalty_accrued: Money
    overdue_total: Money
    principal_outstanding: Money


class DefaultListPage(ResponseModel):
    as_of: dt.date
    total: int
    limit: int
    offset: int
    totals: ListTotals
    items: list[DefaultListItem]


class PublicationItem(ResponseModel):
    """What the center publishes: the ID number masked (first 6, last 4)."""

    borrower_name: str
    id_number_masked: str
    university_name: str
    reported_on: dt.date
    arrears_days: int
    days_past_due: int
    overdue_principal: Money
    overdue_interest: Money
    penalty_accrued: Money
    overdue_total: Money


class SnapshotIn(RequestModel):
    business_date: dt.date


class SnapshotOut(ResponseModel):
    business_date: dt.date
    loans: int


class ForgivenessIn(RequestModel):
    approved_on: dt.date
    case_reference: str = Field(min_length=1, max_length=100)


class AgingLine(ResponseModel):
    key_id: int
    bucket: str
    loans: int
    principal_outstanding: Money
    overdue_amount: Money


class PerformanceLine(ResponseModel):
    university_id: int
    graduation_year: int
    borrowers: int
    defaulted: int
    disbursed: Money
    defaulted_outstanding: Money
    default_rate_by_count: Decimal
    default_rate_by_amount: Decimal


class ForgivenLine(ResponseModel):
    university_id: int
    loans: int
    amount: Money


class StaffRatioLine(ResponseModel):
    university_id: int
    university_name: str
    staff: int
    full_time_students: int
    required_staff: int
    meets_ratio: bool
