"""API shapes of subsidy statements."""

from __future__ import annotations

import datetime as dt

from app.schemas_common import RequestModel, ResponseModel, SignedMoney
from app.subsidy.models import FinanceLevel, LineKind, StatementStatus


class StatementOut(ResponseModel):
    id: int
    bank_id: int
    center_id: int
    finance_level: FinanceLevel
    settlement_date: dt.date
    claims_total: SignedMoney
    adjustments_total: SignedMoney
    total: SignedMoney
    status: StatementStatus
    approved_on: dt.date | None
    approved_by: str | None
    paid_on: dt.date | None
    payment_entry_id: int | None


class StatementLineOut(ResponseModel):
    loan_id: int
    contract_no: str
    borrower_name: str
    university_id: int
    university_name: str
    policy_code: str
    kind: LineKind
    claim_date: dt.date
    previously_claimed: SignedMoney
    claim_amount: SignedMoney
    amount: SignedMoney


class StatementDetail(StatementOut):
    lines: list[StatementLineOut]


class PayIn(RequestModel):
    """Finance paid the statement on ``paid_on`` (the value date of the bank's receipt)."""

    paid_on: dt.date
