"""Contracts (the serviced loan plus its amounts per academic year),
disbursements, and the contact address reported after graduation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import audit, clock
from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import get_writable, require_role, select_visible
from app.engine.dates import add_months
from app.errors import Conflict, InvalidInput, NotFound
from app.origination.applications import application_years, move_on
from app.origination.models import (
    AddressKind,
    AddressReport,
    Application,
    ApplicationStatus,
    Batch,
    ContractYear,
    Decision,
)
from app.origination.quota import policy_on
from app.reference.models import Agreement, Bank
from app.servicing.models import EventKind, Loan, LoanEvent
from app.servicing.service import load_events, open_loan, record_event

GRADUATION_KINDS = (EventKind.graduation, EventKind.withdrawal)


def sign_contract(
    session: Session,
    principal: Principal,
    *,
    application_id: int,
    signed_on: dt.date,
    annual_rate: Decimal,
    contract_no: str | None = None,
) -> Loan:
    """The bank signs one contract for the approved years of study, pinned to the
    policy version in force on ``signed_on`` (the loan keeps it for life)."""
    application = get_writable(session, principal, Application, application_id,
                               Role.bank_operator)
    if application.status != ApplicationStatus.approved:
        raise Conflict(f"application {application.id} is {application.status.value}, "
                       "not approved", code="wrong_status")
    decision = session.scalars(
        sa.select(Decision).where(Decision.application_id == application.id)).one()
    if signed_on > clock.today():
        raise InvalidInput("signed_on is in the future", "signed_on", code="future_date")
    if signed_on < decision.decided_on:
        raise InvalidInput("signed_on is before the approval", "signed_on")
    policy = policy_on(signed_on, "signed_on")
    batch = session.get(Batch, application.batch_id)
    agreement = session.get(Agreement, batch.agreement_id)
    if contract_no is None:
        bank = session.get(Bank, batch.bank_id)
        contract_no = f"NSL-{bank.code}-{signed_on.year}-{application.id:06d}"
    if session.scalar(sa.select(Loan.id).where(Loan.contract_no == contract_no)) is not None:
        raise Conflict(f"contract number {contract_no} is already used", field="contract_no",
                       code="duplicate")
    before = audit.snapshot(application)
    move_on(session, application, ApplicationStatus.approved, ApplicationStatus.contracted)
    loan = open_loan(
        session, principal, contract_no=contract_no, bank_id=batch.bank_id,
        university_id=application.university_id, center_id=application.center_id,
        agreement_id=agreement.id, borrower_id=application.borrower_id,
        policy_code=policy.code, annual_rate=annual_rate,
        penalty_markup=policy.arrears.penalty_markup,
        subsidy_settlement=agreement.subsidy_settlement.value, signed_on=signed_on,
    )
    session.add_all(
        ContractYear(loan_id=loan.id, academic_year=y.academic_year, amount=y.amount,
                     disbursed=Decimal("0"))
        for y in application_years(session, application.id)
    )
    application.loan_id = loan.id
    session.flush()
    audit.record(session, principal, "application.contract", application, before,
                 audit.snapshot(application))
    return loan


def contract_years(session: Session, loan_id: int) -> list[ContractYear]:
    return list(session.scalars(
        sa.select(ContractYear).where(ContractYear.loan_id == loan_id)
        .order_by(ContractYear.academic_year)))


def confirm_disbursement(
    session: Session,
    principal: Principal,
    *,
    loan: Loan,
    academic_year: str,
    amount: Decimal,
    value_date: dt.date,
    bank_txn_id: str | None = None,
    source: str = "api",
) -> LoanEvent:
    """The bank confirms money paid out for one academic year of the contract.

    Called by the API and by the bank-files module (format 3, ``source``
    ``bankfile:<upload id>``); the caller has found ``loan`` and checked the
    borrower's ID number.  The year's disbursed total stays within its amount
    by a guarded UPDATE; the engine books the ledger entry and refuses a
    disbursement after graduation (409 ``refused_by_rules``).
    """
    require_role(principal, Role.bank_operator)
    if principal.bank_id is not None and principal.bank_id != loan.bank_id:
        raise NotFound(f"Loan {loan.id} not found")
    year = session.scalars(sa.select(ContractYear).where(
        ContractYear.loan_id == loan.id, ContractYear.academic_year == academic_year)
    ).one_or_none()
    if year is None:
        raise InvalidInput(f"{academic_year} is not a year of contract {loan.contract_no}",
                           "academic_year", code="year_not_in_contract")
    if value_date < loan.signed_on:
        raise InvalidInput("value_date is before the contract was signed", "value_date")
    if bank_txn_id is not None and session.scalar(
        sa.select(LoanEvent.id).join(Loan, Loan.id == LoanEvent.loan_id)
        .where(Loan.bank_id == loan.bank_id, LoanEvent.external_ref == bank_txn_id)
    ) is not None:
        raise Conflict(f"bank_txn_id {bank_txn_id} was already recorded",
                       field="bank_txn_id", code="duplicate")
    before = audit.snapshot(year)
    result = session.execute(
        sa.update(ContractYear)
        .where(ContractYear.id == year.id,
               sa.func.round(ContractYear.disbursed + amount, 2) <= ContractYear.amount)
        .values(disbursed=sa.func.round(ContractYear.disbursed + amount, 2))
        .execution_options(synchronize_session=False)
    )
    session.refresh(year)
    if result.rowcount != 1:
        raise Conflict(
            f"{amount} exceeds what is left of {academic_year} in the contract: "
            f"{year.amount - year.disbursed} of {year.amount}",
            field="amount", code="exceeds_contract",
            details={"amount": year.amount, "disbursed": year.disbursed},
        )
    audit.record(session, principal, "contract_year.disburse", year, before,
                 audit.snapshot(year))
    return record_event(session, principal, loan, kind=EventKind.disbursement,
                        event_date=value_date, amount=amount,
                        data={"academic_year": academic_year}, source=source,
                        external_ref=bank_txn_id)


def graduated_on(session: Session, loan: Loan) -> dt.date | None:
    """The date the borrower last left school (graduation or withdrawal), unless
    continued study followed it."""
    for event in reversed(load_events(session, loan.id)):
        if event.kind in GRADUATION_KINDS:
            return event.event_date
        if event.kind == EventKind.continued_study_start:
            return None
    return None


def report_due(graduated: dt.date) -> dt.date:
    """Reports are due within a year of graduation."""
    return add_months(graduated, 12)


def report_address(
    session: Session,
    principal: Principal,
    *,
    loan_id: int,
    kind: AddressKind,
    address: str,
    employer: str,
    phone: str,
    reported_on: dt.date,
) -> AddressReport:
    """The university reports the first employment's contact address (or the
    family address) of a graduate; a report after the year is kept, marked late."""
    loan = get_writable(session, principal, Loan, loan_id, Role.university_officer)
    graduated = graduated_on(session, loan)
    if graduated is None:
        raise Conflict("the borrower has not graduated (no graduation or withdrawal recorded)",
                       code="not_graduated")
    if reported_on > clock.today():
        raise InvalidInput("reported_on is in the future", "reported_on", code="future_date")
    if reported_on < graduated:
        raise InvalidInput("reported_on is before the graduation", "reported_on")
    if kind == AddressKind.employment and not employer.strip():
        raise InvalidInput("an employment address names the employer", "employer")
    report = AddressReport(
        loan_id=loan.id, kind=kind, employer=employer, address=address, phone=phone,
        reported_on=reported_on, graduated_on=graduated,
        late=reported_on > report_due(graduated), reported_by=principal.user_name,
    )
    session.add(report)
    session.flush()
    audit.record(session, principal, "address_report.create", report, None,
                 audit.snapshot(report))
    return report


def missing_address_reports(
    session: Session, principal: Principal, *, as_of: dt.date, due_only: bool = True
) -> list[tuple[Loan, dt.date, dt.date]]:
    """Graduated borrowers (as of ``as_of``) with no address reported since
    graduating: (loan, graduated on, report due on); with ``due_only`` only
    those whose year has passed."""
    event = sa.orm.aliased(LoanEvent)
    later_study = sa.orm.aliased(LoanEvent)
    last_exit = (
        sa.select(event.loan_id, sa.func.max(event.event_date).label("graduated_on"))
        .where(event.kind.in_(GRADUATION_KINDS), event.event_date <= as_of)
        .group_by(event.loan_id)
        .subquery()
    )
    query = (
        select_visible(principal, Loan)
        .add_columns(last_exit.c.graduated_on)
        .join(last_exit, last_exit.c.loan_id == Loan.id)
        .where(
            ~sa.exists().where(
                later_study.loan_id == Loan.id,
                later_study.kind == EventKind.continued_study_start,
                later_study.event_date > last_exit.c.graduated_on,
                later_study.event_date <= as_of),
            ~sa.exists().where(
                AddressReport.loan_id == Loan.id,
                AddressReport.reported_on >= last_exit.c.graduated_on),
        )
        .order_by(last_exit.c.graduated_on, Loan.id)
    )
    rows = [(loan, day, report_due(day)) for loan, day in session.execute(query)]
    return [row for row in rows if not due_only or row[2] < as_of]
