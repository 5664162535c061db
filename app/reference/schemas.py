from __future__ import annotations

import datetime as dt
from typing import Self

from pydantic import Field, model_validator

from app.reference.models import CenterLevel, StudentCategory, SubsidySettlement
from app.schemas_common import (
    AcademicYear,
    Count,
    PatchModel,
    Rate,
    RequestModel,
    ResponseModel,
)

Name = Field(min_length=1, max_length=200)
ProvinceCode = Field(pattern=r"^\d{2}$", description="GB/T 2260 province code, e.g. \"11\"")


# -- centers ----------------------------------------------------------------


class CenterCreate(RequestModel):
    name: str = Name
    level: CenterLevel
    province_code: str | None = ProvinceCode

    @model_validator(mode="after")
    def _province_matches_level(self) -> Self:
        if (self.level == CenterLevel.provincial) != (self.province_code is not None):
            raise ValueError("a provincial center has a province_code, the national one none")
        return self


class CenterPatch(PatchModel):
    name: str = Field(None, min_length=1, max_length=200)


class CenterOut(ResponseModel):
    id: int
    name: str
    level: CenterLevel
    province_code: str | None
    created_at: dt.datetime


# -- universities ------------------------------------------------------------


class UniversityCreate(RequestModel):
    name: str = Name
    code: str = Field(min_length=1, max_length=20)
    center_id: int
    staff_count: Count = 0


class UniversityPatch(PatchModel):
    name: str = Field(None, min_length=1, max_length=200)
    center_id: int = None
    staff_count: Count = None


class UniversityOut(ResponseModel):
    id: int
    name: str
    code: str
    center_id: int
    staff_count: int
    created_at: dt.datetime


# -- banks -------------------------------------------------------------------


class BankCreate(RequestModel):
    name: str = Name
    code: str = Field(min_length=1, max_length=20)


class BankPatch(PatchModel):
    name: str = Field(None, min_length=1, max_length=200)


class BankOut(ResponseModel):
    id: int
    name: str
    code: str
    created_at: dt.datetime


# -- agreements --------------------------------------------------------------


class AgreementCreate(RequestModel):
    center_id: int
    bank_id: int
    valid_from: dt.date
    valid_to: dt.date | None = Field(None, description="inclusive; none: open-ended")
    approval_deadline_working_days: int = Field(gt=0, le=365)
    risk_compensation_rate: Rate
    subsidy_settlement: SubsidySettlement
    rate_rule: str = Field("", max_length=2000)


class AgreementPatch(PatchModel):
    valid_from: dt.date = None
    valid_to: dt.date | None = None
    approval_deadline_working_days: int = Field(None, gt=0, le=365)
    risk_compensation_rate: Rate = None
    subsidy_settlement: SubsidySettlement = None
    rate_rule: str = Field(None, max_length=2000)


class AgreementOut(ResponseModel):
    id: int
    center_id: int
    bank_id: int
    valid_from: dt.date
    valid_to: dt.date | None
    approval_deadline_working_days: int
    risk_compensation_rate: Rate
    subsidy_settlement: SubsidySettlement
    rate_rule: str
    created_at: dt.datetime


# -- enrolment ---------------------------------------------------------------


class EnrolmentCreate(RequestModel):
    academic_year: AcademicYear
    category: StudentCategory
    full_time: bool
    count: Count


class EnrolmentPatch(PatchModel):
    count: Count = None


class EnrolmentOut(ResponseModel):
    id: int
    university_id: int
    academic_year: str
    category: StudentCategory
    full_time: bool
    count: int
    created_at: dt.datetime


# -- calendar ----------------------------------------------------------------


class WorkingDaysOut(ResponseModel):
    start: dt.date
    working_days: int
    date: dt.date



class CalendarYearIn(RequestModel):
    """A year of the State Council's holiday notice: its holidays and make-up workdays."""

    source: str = Field(min_length=1, max_length=200,
                        examples=["国办发明电〔2026〕7号"])
    holidays: list[dt.date] = Field(max_length=366)
    workdays: list[dt.date] = Field(default_factory=list, max_length=366)


class CalendarYearOut(ResponseModel):
    year: int
    source: str
    holidays: list[dt.date]
    workdays: list[dt.date]
    published_by: str
    published_at: dt.datetime
