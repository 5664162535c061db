"""Origination over HTTP: quotas, applications, batches, decisions, contracts,
disbursements, address reports.  Creations of applications, decisions,
contracts and disbursements accept an ``Idempotency-Key``."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from app import clock
from app.auth.deps import CurrentPrincipal
from app.auth.principal import Principal
from app.auth.scope import get_visible, select_visible
from app.deps import DbSession
from app.errors import InvalidInput
from app.idempotency.service import IdempotencyDep, idempotent
from app.origination import scope as _scope  # noqa: F401  (registers the scope rules)
from app.origination import service
from app.origination.models import (
    AddressReport,
    Application,
    ApplicationStatus,
    ApplicationYear,
    Batch,
    Decision,
    Quota,
)
from app.origination.schemas import (
    AddressReportIn,
    AddressReportOut,
    ApplicationIn,
    ApplicationOut,
    ApplicationPatch,
    BatchIn,
    BatchOut,
    ContractIn,
    ContractOut,
    DecisionIn,
    DecisionOut,
    DisbursementIn,
    DisbursementOut,
    MissingReportOut,
    OverdueOut,
    QuotaAdjustIn,
    QuotaIn,
    QuotaOut,
)
from app.privacy.masking import id_number_for
from app.servicing import scope as _loan_scope  # noqa: F401  (registers the loan rules)
from app.servicing.models import Borrower, Loan

router = APIRouter()
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]
CREATED = {"status_code": 201}


def _filtered(query: sa.Select, filters: dict[Any, Any]) -> sa.Select:
    for column, value in filters.items():
        if value is not None:
            query = query.where(column == value)
    return query


# -- quotas ------------------------------------------------------------------


@router.post("/quotas", response_model=QuotaOut, status_code=201, tags=["quotas"])
def create_quota(session: DbSession, principal: CurrentPrincipal, body: QuotaIn) -> Quota:
    """The center sets a university's quota for a year (base = eligible full-time
    enrolment × ratio × amount of the policy version; actual = base unless given)."""
    return service.create_quota(session, principal, **body.model_dump())


@router.get("/quotas", response_model=list[QuotaOut], tags=["quotas"])
def list_quotas(
    session: DbSession, principal: CurrentPrincipal, university_id: int | None = None,
    academic_year: str | None = None, limit: Limit = 100, offset: Offset = 0,
) -> list[Quota]:
    query = _filtered(select_visible(principal, Quota),
                      {Quota.university_id: university_id, Quota.academic_year: academic_year})
    return list(session.scalars(query.order_by(Quota.id).limit(limit).offset(offset)))


@router.get("/quotas/{quota_id}", response_model=QuotaOut, tags=["quotas"])
def get_quota(session: DbSession, principal: CurrentPrincipal, quota_id: int) -> Quota:
    return get_visible(session, principal, Quota, quota_id)


@router.patch("/quotas/{quota_id}", response_model=QuotaOut, tags=["quotas"])
def adjust_quota(
    session: DbSession, principal: CurrentPrincipal, quota_id: int, body: QuotaAdjustIn
) -> Quota:
    """The center adjusts the actual quota, with a reason; never below what is consumed."""
    return service.adjust_quota(session, principal, quota_id=quota_id, **body.model_dump())


# -- applications ------------------------------------------------------------


def _applications_out(session: Session, principal: Principal, apps: Sequence[Application]
                      ) -> list[ApplicationOut]:
    """Applications with their student, yearly amounts and decision (three queries);
    the ID number in full only for the bank (and admin), masked for the others."""
    ids = [a.id for a in apps]
    borrowers = {b.id: b for b in session.scalars(
        sa.select(Borrower).where(Borrower.id.in_({a.borrower_id for a in apps})))}
    years: dict[int, list[ApplicationYear]] = defaultdict(list)
    for year in session.scalars(sa.select(ApplicationYear).where(
            ApplicationYear.application_id.in_(ids)).order_by(ApplicationYear.academic_year)):
        years[year.application_id].append(year)
    decisions = {d.application_id: d for d in session.scalars(
        sa.select(Decision).where(Decision.application_id.in_(ids)))}
    out = []
    for a in apps:
        borrower = borrowers[a.borrower_id]
        fields = {name: getattr(a, name) for name in ApplicationOut.model_fields
                  if hasattr(a, name)}
        out.append(ApplicationOut.model_validate(fields | {
            "student_name": borrower.name,
            "id_number": id_number_for(principal, borrower.id_number),
            "years": years[a.id], "decision": decisions.get(a.id),
        }))
    return out


def _application_out(session: Session, principal: Principal, application: Application
                     ) -> ApplicationOut:
    return _applications_out(session, principal, [application])[0]


@router.post("/applications", response_model=ApplicationOut, status_code=201,
             tags=["applications"])
def create_application(
    session: DbSession, principal: CurrentPrincipal, body: ApplicationIn, idem: IdempotencyDep
) -> JSONResponse:
    """The university's aid office takes a student's application."""
    university_id = body.university_id or principal.university_id
    if university_id is None:
        raise InvalidInput("university_id is required", "university_id")

    def create() -> ApplicationOut:
        application = service.create_application(
            session, principal, university_id=university_id,
            academic_year=body.academic_year,
            student=service.Student(**body.student.model_dump()),
            years=[(y.academic_year, y.amount) for y in body.years],
            materials_complete=body.materials_complete,
        )
        return _application_out(session, principal, application)

    return idempotent(session, principal, idem, 201, create)


@router.get("/applications", response_model=list[ApplicationOut], tags=["applications"])
def list_applications(
    session: DbSession, principal: CurrentPrincipal,
    status: ApplicationStatus | None = None, academic_year: str | None = None,
    university_id: int | None = None, bank_id: int | None = None,
    batch_id: int | None = None, limit: Limit = 100, offset: Offset = 0,
) -> list[ApplicationOut]:
    query = _filtered(select_visible(principal, Application), {
        Application.status: status, Application.academic_year: academic_year,
        Application.university_id: university_id, Application.bank_id: bank_id,
        Application.batch_id: batch_id})
    apps = list(session.scalars(query.order_by(Application.id).limit(limit).offset(offset)))
    return _applications_out(session, principal, apps)


@router.get("/applications/{application_id}", response_model=ApplicationOut,
            tags=["applications"])
def get_application(
    session: DbSession, principal: CurrentPrincipal, application_id: int
) -> ApplicationOut:
    return _application_out(session, principal, get_visible(session, principal, Application,
                                                 application_id))


@router.patch("/applications/{application_id}", response_model=ApplicationOut,
              tags=["applications"])
def update_application(
    session: DbSession, principal: CurrentPrincipal, application_id: int,
    body: ApplicationPatch,
) -> ApplicationOut:
    """Complete an application not vetted yet (materials, contact)."""
    application = service.update_application(session, principal, application_id=application_id,
                                             changes=body.changes())
    return _application_out(session, principal, application)


@router.post("/applications/{application_id}/vet", response_model=ApplicationOut,
             tags=["applications"])
def vet_application(
    session: DbSession, principal: CurrentPrincipal, application_id: int
) -> ApplicationOut:
    """The aid office confirms eligibility and complete materials."""
    application = service.vet_application(session, principal, application_id=application_id)
    return _application_out(session, principal, application)


@router.post("/applications/{application_id}/decision", response_model=DecisionOut,
             status_code=201, tags=["applications"])
def decide(
    session: DbSession, principal: CurrentPrincipal, application_id: int, body: DecisionIn,
    idem: IdempotencyDep,
) -> JSONResponse:
    """The bank approves (consuming the university's quota of each year) or
    rejects (with a reason) an application submitted to it."""
    return idempotent(session, principal, idem, 201, lambda: DecisionOut.model_validate(
        service.decide(session, principal, application_id=application_id,
                       decision=body.decision, reason=body.reason,
                       decided_on=body.decided_on or clock.today())))


@router.get("/decisions/overdue", response_model=list[OverdueOut], tags=["applications"])
def overdue_decisions(
    session: DbSession, principal: CurrentPrincipal, as_of: dt.date | None = None
) -> list[OverdueOut]:
    """Applications decided after, or still undecided past, the agreement's
    working-day deadline (for the center; banks see their own)."""
    rows = service.overdue_decisions(session, principal, as_of=as_of or clock.today())
    return [OverdueOut(application_id=a.id, university_id=a.university_id, bank_id=b.bank_id,
                       batch_id=b.id, submitted_on=b.submitted_on, deadline_on=b.deadline_on,
                       decided_on=d.decided_on if d else None,
                       decision=d.decision if d else None)
            for a, b, d in rows]


# -- batches -----------------------------------------------------------------


def _batch_out(session: Session, batch: Batch) -> BatchOut:
    ids = list(session.scalars(sa.select(Application.id).where(Application.batch_id == batch.id)
                               .order_by(Application.id)))
    fields = {name: getattr(batch, name) for name in BatchOut.model_fields if hasattr(batch, name)}
    return BatchOut(**fields, application_ids=ids)


@router.post("/batches", response_model=BatchOut, status_code=201, tags=["applications"])
def submit_batch(session: DbSession, principal: CurrentPrincipal, body: BatchIn) -> BatchOut:
    """The university submits vetted applications to its center's bank."""
    batch = service.submit_batch(session, principal, application_ids=body.application_ids,
                                 submitted_on=body.submitted_on or clock.today())
    return _batch_out(session, batch)


@router.get("/batches", response_model=list[BatchOut], tags=["applications"])
def list_batches(
    session: DbSession, principal: CurrentPrincipal, university_id: int | None = None,
    bank_id: int | None = None, limit: Limit = 100, offset: Offset = 0,
) -> list[BatchOut]:
    query = _filtered(select_visible(principal, Batch),
                      {Batch.university_id: university_id, Batch.bank_id: bank_id})
    batches = session.scalars(query.order_by(Batch.id).limit(limit).offset(offset))
    return [_batch_out(session, b) for b in batches]


@router.get("/batches/{batch_id}", response_model=BatchOut, tags=["applications"])
def get_batch(session: DbSession, principal: CurrentPrincipal, batch_id: int) -> BatchOut:
    return _batch_out(session, get_visible(session, principal, Batch, batch_id))


# -- contracts and disbursements ---------------------------------------------


def _contract_out(session: Session, loan: Loan) -> ContractOut:
    application_id = session.scalar(sa.select(Application.id).where(
        Application.loan_id == loan.id))
    fields = {name: getattr(loan, name) for name in ContractOut.model_fields
              if hasattr(loan, name)}
    return ContractOut.model_validate(fields | {
        "loan_id": loan.id, "application_id": application_id,
        "years": service.contract_years(session, loan.id)})


@router.post("/applications/{application_id}/contract", response_model=ContractOut,
             status_code=201, tags=["contracts"])
def sign_contract(
    session: DbSession, principal: CurrentPrincipal, application_id: int, body: ContractIn,
    idem: IdempotencyDep,
) -> JSONResponse:
    """The bank signs the contract of an approved application; it keeps the
    policy version in force on the signing date."""
    return idempotent(session, principal, idem, 201, lambda: _contract_out(
        session, service.sign_contract(session, principal, application_id=application_id,
                                       **body.model_dump())))


def _loan(session: Session, principal: Principal, loan_id: int) -> Loan:
    return get_visible(session, principal, Loan, loan_id)


@router.get("/contracts/{loan_id}", response_model=ContractOut, tags=["contracts"])
def get_contract(session: DbSession, principal: CurrentPrincipal, loan_id: int) -> ContractOut:
    return _contract_out(session, _loan(session, principal, loan_id))


@router.post("/contracts/{loan_id}/disbursements", response_model=DisbursementOut,
             status_code=201, tags=["contracts"])
def disburse(
    session: DbSession, principal: CurrentPrincipal, loan_id: int, body: DisbursementIn,
    idem: IdempotencyDep,
) -> JSONResponse:
    """The bank confirms the disbursement of an academic year (or part of it)."""
    loan = _loan(session, principal, loan_id)

    def create() -> DisbursementOut:
        event = service.confirm_disbursement(session, principal, loan=loan, **body.model_dump())
        year = next(y for y in service.contract_years(session, loan.id)
                    if y.academic_year == body.academic_year)
        return DisbursementOut(event_id=event.id, loan_id=loan.id,
                               academic_year=body.academic_year, amount=body.amount,
                               value_date=body.value_date, bank_txn_id=body.bank_txn_id,
                               year_disbursed=year.disbursed, year_amount=year.amount)

    return idempotent(session, principal, idem, 201, create)


# -- contact address after graduation ----------------------------------------


@router.post("/contracts/{loan_id}/address-reports", response_model=AddressReportOut,
             status_code=201, tags=["contracts"])
def report_address(
    session: DbSession, principal: CurrentPrincipal, loan_id: int, body: AddressReportIn
) -> AddressReport:
    """The university reports a graduate's first employment contact address
    (or family address), due within a year of graduation."""
    fields = body.model_dump() | {"reported_on": body.reported_on or clock.today()}
    return service.report_address(session, principal, loan_id=loan_id, **fields)


@router.get("/contracts/{loan_id}/address-reports", response_model=list[AddressReportOut],
            tags=["contracts"])
def list_address_reports(
    session: DbSession, principal: CurrentPrincipal, loan_id: int
) -> list[AddressReport]:
    loan = _loan(session, principal, loan_id)
    return list(session.scalars(sa.select(AddressReport).where(AddressReport.loan_id == loan.id)
                                .order_by(AddressReport.reported_on, AddressReport.id)))


@router.get("/address-reports/missing", response_model=list[MissingReportOut],
            tags=["contracts"])
def missing_address_reports(
    session: DbSession, principal: CurrentPrincipal, as_of: dt.date | None = None,
    due_only: bool = True,
) -> list[MissingReportOut]:
    """Graduates with no contact address reported: by default those whose year
    after graduation has passed; ``due_only=false`` adds those still in it."""
    day = as_of or clock.today()
    rows = service.missing_address_reports(session, principal, as_of=day, due_only=due_only)
    return [MissingReportOut(loan_id=loan.id, contract_no=loan.contract_no,
                             university_id=loan.university_id, graduated_on=graduated,
                             due_on=due, overdue=due < day)
            for loan, graduated, due in rows]
