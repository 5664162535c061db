"""API shapes of stored loans."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from app.schemas_common import PositiveMoney, Rate, RequestModel, ResponseModel


class PlanIn(RequestModel):
    """The repayment plan the borrower confirmed with the bank (还款确认)."""

    confirmed_on: dt.date
    grace_months: int = Field(ge=0, le=600)
    term_months: int = Field(ge=1, le=600)
    frequency: Literal["monthly", "quarterly", "annual"]
    method: Literal["equal_installment", "equal_principal"]


class PaymentIn(RequestModel):
    value_date: dt.date
    amount: PositiveMoney
    bank_txn_id: str | None = Field(default=None, min_length=1, max_length=64)


class ReversalIn(RequestModel):
    value_date: dt.date
    bank_txn_id: str | None = Field(default=None, min_length=1, max_length=64)


class ContactIn(RequestModel):
    date: dt.date
    channel: Literal["phone", "sms", "email", "letter", "visit", "online"]
    initiated_by: Literal["borrower", "bank"]
    note: str = Field(default="", max_length=500)


class RateChangeIn(RequestModel):
    effective_date: dt.date
    annual_rate: Rate


class StatusEventIn(RequestModel):
    kind: Literal["graduation", "withdrawal", "continued_study_start"]
    date: dt.date
    proof_reference: str | None = Field(default=None, min_length=1, max_length=100)


class LoanEventOut(ResponseModel):
    id: int
    kind: str
    event_date: dt.date
    amount: PositiveMoney | None
    data: dict
    reverses_event_id: int | None
    source: str
    external_ref: str | None
    recorded_by: str


class LoanSummary(ResponseModel):
    id: int
    contract_no: str
    bank_id: int
    university_id: int
    center_id: int
    borrower_id: int
    policy_code: str
    annual_rate: Rate
    signed_on: dt.date
    status: str
    serviced_through: dt.date | None
    days_past_due: int
    default_reportable: bool
