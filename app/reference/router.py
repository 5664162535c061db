"""Centers, universities, banks, agreements, enrolment, working days."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query, Response, status

from app.auth.deps import CurrentPrincipal
from app.auth.scope import get_visible, select_visible
from app.db import Base
from app.deps import DbSession
from app.reference import service
from app.reference.calendar import WorkingCalendar, publish_year
from app.reference.models import (
    Agreement,
    Bank,
    CalendarYear,
    Center,
    Enrolment,
    University,
)
from app.reference.schemas import (
    AgreementCreate,
    AgreementOut,
    AgreementPatch,
    BankCreate,
    BankOut,
    BankPatch,
    CalendarYearIn,
    CalendarYearOut,
    CenterCreate,
    CenterOut,
    CenterPatch,
    EnrolmentCreate,
    EnrolmentOut,
    EnrolmentPatch,
    UniversityCreate,
    UniversityOut,
    UniversityPatch,
    WorkingDaysOut,
)
from app.schemas_common import AcademicYear

router = APIRouter()
CREATED = status.HTTP_201_CREATED
NO_CONTENT = status.HTTP_204_NO_CONTENT


def _deleted(
    session: DbSession, principal: CurrentPrincipal, model: type[Base], id_: int
) -> Response:
    service.delete(session, principal, model=model, id_=id_)
    return Response(status_code=NO_CONTENT)


# -- centers ----------------------------------------------------------------


@router.get("/centers", response_model=list[CenterOut], tags=["centers"])
def list_centers(session: DbSession, principal: CurrentPrincipal) -> list[Center]:
    return list(session.scalars(select_visible(principal, Center).order_by(Center.id)))


@router.post("/centers", response_model=CenterOut, status_code=CREATED, tags=["centers"])
def create_center(session: DbSession, principal: CurrentPrincipal, body: CenterCreate) -> Center:
    return service.create_center(session, principal, **body.model_dump())


@router.get("/centers/{center_id}", response_model=CenterOut, tags=["centers"])
def get_center(session: DbSession, principal: CurrentPrincipal, center_id: int) -> Center:
    return get_visible(session, principal, Center, center_id)


@router.patch("/centers/{center_id}", response_model=CenterOut, tags=["centers"])
def update_center(
    session: DbSession, principal: CurrentPrincipal, center_id: int, body: CenterPatch
) -> Center:
    return service.update_center(
        session, principal, center_id=center_id, changes=body.changes()
    )


@router.delete("/centers/{center_id}", status_code=NO_CONTENT, tags=["centers"])
def delete_center(session: DbSession, principal: CurrentPrincipal, center_id: int) -> Response:
    return _deleted(session, principal, Center, center_id)


# -- universities ------------------------------------------------------------


@router.get("/universities", response_model=list[UniversityOut], tags=["universities"])
def list_universities(
    session: DbSession, principal: CurrentPrincipal, center_id: int | None = None
) -> list[University]:
    query = select_visible(principal, University)
    if center_id is not None:
        query = query.where(University.center_id == center_id)
    return list(session.scalars(query.order_by(University.id)))


@router.post(
    "/universities", response_model=UniversityOut, status_code=CREATED, tags=["universities"]
)
def create_university(
    session: DbSession, principal: CurrentPrincipal, body: UniversityCreate
) -> University:
    return service.create_university(session, principal, **body.model_dump())


@router.get("/universities/{university_id}", response_model=UniversityOut, tags=["universities"])
def get_university(
    session: DbSession, principal: CurrentPrincipal, university_id: int
) -> University:
    return get_visible(session, principal, University, university_id)


@router.patch(
    "/universities/{university_id}", response_model=UniversityOut, tags=["universities"]
)
def update_university(
    session: DbSession, principal: CurrentPrincipal, university_id: int, body: UniversityPatch
) -> University:
    return service.update_university(
        session, principal, university_id=university_id, changes=body.changes()
    )


@router.delete("/universities/{university_id}", status_code=NO_CONTENT, tags=["universities"])
def delete_university(
    session: DbSession, principal: CurrentPrincipal, university_id: int
) -> Response:
    return _deleted(session, principal, University, university_id)


# -- enrolment ---------------------------------------------------------------


@router.get(
    "/universities/{university_id}/enrolment",
    response_model=list[EnrolmentOut],
    tags=["enrolment"],
)
def list_enrolment(
    session: DbSession,
    principal: CurrentPrincipal,
    university_id: int,
    academic_year: AcademicYear | None = Query(None),
) -> list[Enrolment]:
    get_visible(session, principal, University, university_id)
    query = select_visible(principal, Enrolment).where(Enrolment.university_id == university_id)
    if academic_year is not None:
        query = query.where(Enrolment.academic_year == academic_year)
    return list(session.scalars(query.order_by(Enrolment.id)))


@router.post(
    "/universities/{university_id}/enrolment",
    response_model=EnrolmentOut,
    status_code=CREATED,
    tags=["enrolment"],
)
def create_enrolment(
    session: DbSession, principal: CurrentPrincipal, university_id: int, body: EnrolmentCreate
) -> Enrolment:
    return service.create_enrolment(
        session, principal, university_id=university_id, **body.model_dump()
    )


@router.get("/enrolment/{enrolment_id}", response_model=EnrolmentOut, tags=["enrolment"])
def get_enrolment(
    session: DbSession, principal: CurrentPrincipal, enrolment_id: int
) -> Enrolment:
    return get_visible(session, principal, Enrolment, enrolment_id)


@router.patch("/enrolment/{enrolment_id}", response_model=EnrolmentOut, tags=["enrolment"])
def update_enrolment(
    session: DbSession, principal: CurrentPrincipal, enrolment_id: int, body: EnrolmentPatch
) -> Enrolment:
    return service.update_enrolment(
        session, principal, enrolment_id=enrolment_id, changes=body.changes()
    )


@router.delete("/enrolment/{enrolment_id}", status_code=NO_CONTENT, tags=["enrolment"])
def delete_enrolment(
    session: DbSession, principal: CurrentPrincipal, enrolment_id: int
) -> Response:
    return _deleted(session, principal, Enrolment, enrolment_id)


# -- banks -------------------------------------------------------------------


@router.get("/banks", response_model=list[BankOut], tags=["banks"])
def list_banks(session: DbSession, principal: CurrentPrincipal) -> list[Bank]:
    return list(session.scalars(select_visible(principal, Bank).order_by(Bank.id)))


@router.post("/banks", response_model=BankOut, status_code=CREATED, tags=["banks"])
def create_bank(session: DbSession, principal: CurrentPrincipal, body: BankCreate) -> Bank:
    return service.create_bank(session, principal, **body.model_dump())


@router.get("/banks/{bank_id}", response_model=BankOut, tags=["banks"])
def get_bank(session: DbSession, principal: CurrentPrincipal, bank_id: int) -> Bank:
    return get_visible(session, principal, Bank, bank_id)


@router.patch("/banks/{bank_id}", response_model=BankOut, tags=["banks"])
def update_bank(
    session: DbSession, principal: CurrentPrincipal, bank_id: int, body: BankPatch
) -> Bank:
    return service.update_bank(session, principal, bank_id=bank_id, changes=body.changes())


@router.delete("/banks/{bank_id}", status_code=NO_CONTENT, tags=["banks"])
def delete_bank(session: DbSession, principal: CurrentPrincipal, bank_id: int) -> Response:
    return _deleted(session, principal, Bank, bank_id)


# -- agreements --------------------------------------------------------------


@router.get("/agreements", response_model=list[AgreementOut], tags=["agreements"])
def list_agreements(
    session: DbSession,
    principal: CurrentPrincipal,
    center_id: int | None = None,
    bank_id: int | None = None,
) -> list[Agreement]:
    query = select_visible(principal, Agreement)
    if center_id is not None:
        query = query.where(Agreement.center_id == center_id)
    if bank_id is not None:
        query = query.where(Agreement.bank_id == bank_id)
    return list(session.scalars(query.order_by(Agreement.id)))


@router.post("/agreements", response_model=AgreementOut, status_code=CREATED, tags=["agreements"])
def create_agreement(
    session: DbSession, principal: CurrentPrincipal, body: AgreementCreate
) -> Agreement:
    return service.create_agreement(session, principal, **body.model_dump())


@router.get("/agreements/{agreement_id}", response_model=AgreementOut, tags=["agreements"])
def get_agreement(
    session: DbSession, principal: CurrentPrincipal, agreement_id: int
) -> Agreement:
    return get_visible(session, principal, Agreement, agreement_id)


@router.patch("/agreements/{agreement_id}", response_model=AgreementOut, tags=["agreements"])
def update_agreement(
    session: DbSession, principal: CurrentPrincipal, agreement_id: int, body: AgreementPatch
) -> Agreement:
    return service.update_agreement(
        session, principal, agreement_id=agreement_id, changes=body.changes()
    )


@router.delete("/agreements/{agreement_id}", status_code=NO_CONTENT, tags=["agreements"])
def delete_agreement(
    session: DbSession, principal: CurrentPrincipal, agreement_id: int
) -> Response:
    return _deleted(session, principal, Agreement, agreement_id)


# -- calendar ----------------------------------------------------------------


@router.get("/calendar/working-days", response_model=WorkingDaysOut, tags=["calendar"])
def working_days(
    session: DbSession,
    _principal: CurrentPrincipal,
    start: dt.date,
    days: int = Query(ge=0, le=366),
) -> WorkingDaysOut:
    """The date ``days`` working days after ``start`` on China's official calendar."""
    date = WorkingCalendar(session).add_working_days(start, days)
    return WorkingDaysOut(start=start, working_days=days, date=date)


@router.get("/calendar/years", response_model=list[CalendarYearOut], tags=["calendar"])
def published_years(session: DbSession, _principal: CurrentPrincipal) -> list[CalendarYear]:
    """The years the center published (the library's years are not listed)."""
    return list(session.scalars(sa.select(CalendarYear).order_by(CalendarYear.year)))


@router.put("/calendar/years/{year}", response_model=CalendarYearOut, tags=["calendar"])
def publish_calendar_year(
    session: DbSession, principal: CurrentPrincipal, body: CalendarYearIn,
    year: int = Path(ge=2000, le=2100),
) -> CalendarYear:
    """Publish a year the library does not cover yet, from the State Council's
    notice (national center staff); publishing it again corrects it."""
    return publish_year(session, principal, year=year, **body.model_dump())
