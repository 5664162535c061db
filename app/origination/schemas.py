"""API shapes of origination."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, Field, computed_field
from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError

from app.origination.models import AddressKind, DecisionKind
from app.schemas_common import (
    AcademicYear,
    Money,
    PatchModel,
    PositiveMoney,
    Rate,
    RequestModel,
    ResponseModel,
)


def _citizen_id(value: str) -> str:
    """A resident identity number (公民身份号码) per GB 11643: 18 characters,
    a real birth date, the check digit (python-stdnum)."""
    try:
        return ric.validate(value)
    except InvalidChecksum:
        raise ValueError("citizen ID number: the check digit is wrong (GB 11643)") from None
    except InvalidComponent:
        raise ValueError("citizen ID number: birth date or region code not valid") from None
    except ValidationError:
        raise ValueError("citizen ID number: must be 17 digits and a check digit "
                         "(0-9 or X)") from None


CitizenId = Annotated[str, AfterValidator(_citizen_id)]
Text = Annotated[str, Field(max_length=300)]


class StudentIn(RequestModel):
    name: str = Field(min_length=1, max_length=100)
    id_number: CitizenId
    # Eligible: undergraduate, junior_college (incl. higher vocational),
    # graduate, second_bachelor; anything else is refused with a clear 422.
    category: str = Field(min_length=1, max_length=40)
    full_time: bool
    enrolled_on: dt.date
    expected_graduation_on: dt.date
    phone: str = Field(min_length=1, max_length=30)
    address: Text = ""


class YearAmountIn(RequestModel):
    academic_year: AcademicYear
    amount: PositiveMoney


class ApplicationIn(RequestModel):
    student: StudentIn
    # The first academic year asked for.
    academic_year: AcademicYear
    years: list[YearAmountIn] = Field(min_length=1, max_length=10)
    materials_complete: bool = False
    # Defaults to the caller's university.
    university_id: int | None = None


class ApplicationPatch(PatchModel):
    materials_complete: bool = None
    phone: str = Field(default=None, min_length=1, max_length=30)
    address: Text = None


class YearAmountOut(ResponseModel):
    academic_year: str
    amount: Money


class DecisionOut(ResponseModel):
    id: int
    application_id: int
    decision: DecisionKind
    reason: str
    decided_on: dt.date
    deadline_on: dt.date
    late: bool
    decided_by: str


class ApplicationOut(ResponseModel):
    id: int
    university_id: int
    center_id: int
    academic_year: str
    borrower_id: int
    student_name: str
    id_number: str
    category: str
    full_time: bool
    enrolled_on: dt.date
    expected_graduation_on: dt.date
    phone: str
    address: str
    materials_complete: bool
    status: str
    vetted_by: str | None
    batch_id: int | None
    bank_id: int | None
    loan_id: int | None
    years: list[YearAmountOut]
    decision: DecisionOut | None


class BatchIn(RequestModel):
    application_ids: list[int] = Field(min_length=1, max_length=1000)
    # Defaults to today.
    submitted_on: dt.date | None = None


class BatchOut(ResponseModel):
    id: int
    university_id: int
    center_id: int
    bank_id: int
    agreement_id: int
    submitted_on: dt.date
    deadline_working_days: int
    deadline_on: dt.date
    submitted_by: str
    application_ids: list[int]


class DecisionIn(RequestModel):
    decision: DecisionKind
    reason: str = Field(default="", max_length=1000)
    # Defaults to today.
    decided_on: dt.date | None = None


class OverdueOut(ResponseModel):
    application_id: int
    university_id: int
    bank_id: int
    batch_id: int
    submitted_on: dt.date
    deadline_on: dt.date
    decided_on: dt.date | None
    decision: DecisionKind | None


class QuotaIn(RequestModel):
    university_id: int
    academic_year: AcademicYear
    # Defaults to the base; another figure needs a reason.
    actual: Money | None = None
    reason: str | None = Field(default=None, min_length=1, max_length=1000)


class QuotaAdjustIn(RequestModel):
    actual: Money
    reason: str = Field(min_length=1, max_length=1000)


class QuotaOut(ResponseModel):
    id: int
    university_id: int
    academic_year: str
    policy_code: str
    enrolment: int
    base: Money
    actual: Money
    consumed: Money

    @computed_field  # type: ignore[prop-decorator]
    @property
    def remaining(self) -> Money:
        return self.actual - self.consumed

    adjustment_reason: str | None
    adjusted_by: str | None
    adjusted_at: dt.datetime | None


class ContractIn(RequestModel):
    signed_on: dt.date
    annual_rate: Rate
    # Defaults to NSL-<bank code>-<year>-<application id>.
    contract_no: str | None = Field(default=None, min_length=1, max_length=40)


class ContractYearOut(ResponseModel):
    academic_year: str
    amount: Money
    disbursed: Money


class ContractOut(ResponseModel):
    loan_id: int
    contract_no: str
    application_id: int | None
    bank_id: int
    university_id: int
    borrower_id: int
    policy_code: str
    annual_rate: Rate
    penalty_markup: Rate
    subsidy_settlement: str
    signed_on: dt.date
    status: str
    years: list[ContractYearOut]


class DisbursementIn(RequestModel):
    academic_year: AcademicYear
    amount: PositiveMoney
    value_date: dt.date
    bank_txn_id: str | None = Field(default=None, min_length=1, max_length=64)


class AddressReportIn(RequestModel):
    kind: AddressKind
    address: str = Field(min_length=1, max_length=300)
    employer: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=30)
    # Defaults to today.
    reported_on: dt.date | None = None


class AddressReportOut(ResponseModel):
    id: int
    loan_id: int
    kind: AddressKind
    employer: str
    address: str
    phone: str
    reported_on: dt.date
    graduated_on: dt.date
    late: bool
    reported_by: str


class MissingReportOut(ResponseModel):
    loan_id: int
    contract_no: str
    university_id: int
    graduated_on: dt.date
    due_on: dt.date
    overdue: bool


class DisbursementOut(ResponseModel):
    event_id: int
    loan_id: int
    academic_year: str
    amount: Money
    value_date: dt.date
    bank_txn_id: str | None
    year_disbursed: Money
    year_amount: Money

