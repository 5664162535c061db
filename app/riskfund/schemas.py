"""API shapes of the risk-compensation fund."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer

from app.riskfund.models import FundStatus
from app.schemas_common import Money, PositiveMoney, Rate, RequestModel, ResponseModel

Multiplier = Annotated[
    Decimal, PlainSerializer(lambda m: f"{m.normalize():f}", return_type=str, when_used="json")
]


class RiskFundOut(ResponseModel):
    id: int
    agreement_id: int
    year: int
    rate: Rate
    policy_code: str
    disbursed: Money
    fund: Money
    finance_half: Money
    universities_half: Money
    status: FundStatus
    computed_on: dt.date
    confirmed_on: dt.date | None
    confirmed_by: str | None
    paid_on: dt.date | None
    confirmation_entry_id: int | None
    payment_entry_id: int | None


class ShareOut(ResponseModel):
    university_id: int
    disbursed: Money
    graduates: int
    defaults: int
    multiplier: Multiplier
    share: Money


class RiskFundDetail(RiskFundOut):
    """The fund with the shares the caller may see (a university: its own)."""

    shares: list[ShareOut]


class ConfirmIn(RequestModel):
    """The year's disbursements under the agreement, as the center has checked them."""

    disbursed: PositiveMoney


class FundPayIn(RequestModel):
    paid_on: dt.date
