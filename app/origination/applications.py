"""Applications, the university's vetting and batch submission, the bank's decision."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import audit, clock
from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import get_visible, get_writable, require_role, select_visible
from app.errors import Conflict, InvalidInput
from app.origination.models import (
    Application,
    ApplicationStatus,
    ApplicationYear,
    Batch,
    Decision,
    DecisionKind,
)
from app.origination.quota import consume_quota, policy_on, year_start
from app.reference.calendar import WorkingCalendar
from app.reference.models import StudentCategory, University
from app.reference.service import agreement_in_force
from app.servicing.service import find_or_create_borrower

ELIGIBLE = ", ".join(c.value for c in StudentCategory)


@dataclass(frozen=True, slots=True)
class Student:
    name: str
    id_number: str  # already validated (GB 11643)
    category: str
    full_time: bool
    enrolled_on: dt.date
    expected_graduation_on: dt.date
    phone: str
    address: str = ""


def _check_student(student: Student) -> StudentCategory:
    """Eligibility (policy.md): full-time students of the eligible categories only."""
    try:
        category = StudentCategory(student.category)
    except ValueError:
        raise InvalidInput(
            f"category {student.category!r} is not eligible for a national student loan; "
            f"eligible: {ELIGIBLE}", "student.category", code="ineligible") from None
    if not student.full_time:
        raise InvalidInput("only full-time students are eligible", "student.full_time",
                           code="ineligible")
    if student.expected_graduation_on <= student.enrolled_on:
        raise InvalidInput("expected graduation is not after enrolment",
                           "student.expected_graduation_on")
    return category


def _check_years(
    student: Student, category: StudentCategory, academic_year: str,
    years: Sequence[tuple[str, Decimal]],
) -> None:
    """Distinct years within the years of study, the first one the application's,
    each amount within the policy's cap for the category."""
    names = [y for y, _ in years]
    if len(set(names)) != len(names):
        raise InvalidInput("an academic year is listed twice", "years")
    if min(names) != academic_year:
        raise InvalidInput("the application's academic year must be the first year asked for",
                           "academic_year")
    cap = policy_on(clock.today()).limits.per_year_cap[category.value]
    for i, (year, amount) in enumerate(years):
        start = year_start(year)
        if not (start < student.expected_graduation_on
                and dt.date(start.year + 1, 8, 31) >= student.enrolled_on):
            raise InvalidInput(f"{year} is outside the student's years of study",
                               f"years.{i}.academic_year", code="outside_study")
        if amount > cap:
            raise InvalidInput(f"{amount} is over the cap of {cap} per academic year",
                               f"years.{i}.amount", code="over_cap")


def create_application(
    session: Session,
    principal: Principal,
    *,
    university_id: int,
    academic_year: str,
    student: Student,
    years: Sequence[tuple[str, Decimal]],
    materials_complete: bool,
) -> Application:
    require_role(principal, Role.university_officer)
    university = get_visible(session, principal, University, university_id,
                             field="university_id")
    category = _check_student(student)
    _check_years(student, category, academic_year, years)
    borrower = find_or_create_borrower(session, name=student.name, id_number=student.id_number)
    taken = session.execute(
        sa.select(ApplicationYear.academic_year, ApplicationYear.application_id).where(
            ApplicationYear.borrower_id == borrower.id, ApplicationYear.live.is_(True),
            ApplicationYear.academic_year.in_([y for y, _ in years]))
    ).first()
    if taken is not None:
        raise Conflict(f"the student already has application {taken[1]} for {taken[0]}",
                       code="year_already_applied",
                       details={"application_id": taken[1], "academic_year": taken[0]})
    application = Application(
        university_id=university.id, center_id=university.center_id,
        academic_year=academic_year, borrower_id=borrower.id, category=category,
        full_time=student.full_time, enrolled_on=student.enrolled_on,
        expected_graduation_on=student.expected_graduation_on, phone=student.phone,
        address=student.address, materials_complete=materials_complete,
        status=ApplicationStatus.received,
    )
    session.add(application)
    session.flush()
    session.add_all(
        ApplicationYear(application_id=application.id, academic_year=year, amount=amount,
                        borrower_id=borrower.id, live=True)
        for year, amount in sorted(years)
    )
    session.flush()
    audit.record(session, principal, "application.create", application, None,
                 audit.snapshot(application))
    return application


def _in_status(application: Application, *allowed: ApplicationStatus) -> None:
    if application.status not in allowed:
        raise Conflict(
            f"application {application.id} is {application.status.value}, "
            f"not {' or '.join(s.value for s in allowed)}",
            code="wrong_status", details={"status": application.status.value},
        )


def move_on(
    session: Session,
    application: Application,
    source: ApplicationStatus,
    target: ApplicationStatus,
    **values: object,
) -> None:
    """Change the status from ``source`` to ``target`` by a guarded UPDATE, so
    that of two concurrent requests acting on one application only one wins."""
    result = session.execute(
        sa.update(Application)
        .where(Application.id == application.id, Application.status == source)
        .values(status=target, **values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(application)
    if result.rowcount != 1:
        _in_status(application, source)


def update_application(
    session: Session, principal: Principal, *, application_id: int, changes: dict
) -> Application:
    """The aid office completes an application it has not vetted yet."""
    application = get_writable(session, principal, Application, application_id,
                               Role.university_officer)
    _in_status(application, ApplicationStatus.received)
    before = audit.snapshot(application)
    for key, value in changes.items():
        setattr(application, key, value)
    session.flush()
    audit.record(session, principal, "application.update", application, before,
                 audit.snapshot(application))
    return application


def vet_application(session: Session, principal: Principal, *, application_id: int) -> Application:
    """Eligibility was checked at entry; vetting confirms the materials (资格及材料审查)."""
    application = get_writable(session, principal, Application, application_id,
                               Role.university_officer)
    _in_status(application, ApplicationStatus.received)
    if not application.materials_complete:
        raise Conflict("the application's materials are not complete",
                       field="materials_complete", code="materials_incomplete")
    before = audit.snapshot(application)
    move_on(session, application, ApplicationStatus.received, ApplicationStatus.vetted,
            vetted_by=principal.user_name)
    audit.record(session, principal, "application.vet", application, before,
                 audit.snapshot(application))
    return application


def submit_batch(
    session: Session,
    principal: Principal,
    *,
    application_ids: Sequence[int],
    submitted_on: dt.date,
) -> Batch:
    """Send vetted applications of one university to the bank of its center's
    agreement in force; the bank must decide within the agreement's working days."""
    require_role(principal, Role.university_officer)
    if len(set(application_ids)) != len(application_ids):
        raise InvalidInput("an application is listed twice", "application_ids")
    if submitted_on > clock.today():
        raise InvalidInput("submitted_on is in the future", "submitted_on", code="future_date")
    applications = [
        get_visible(session, principal, Application, id_, field="application_ids")
        for id_ in application_ids
    ]
    universities = {a.university_id for a in applications}
    if len(universities) != 1:
        raise InvalidInput("a batch holds the applications of one university",
                           "application_ids")
    not_vetted = [a.id for a in applications if a.status != ApplicationStatus.vetted]
    if not_vetted:
        raise Conflict("only vetted applications can be submitted", code="wrong_status",
                       details={"application_ids": not_vetted})
    university = session.get(University, universities.pop())
    agreement = agreement_in_force(session, center_id=university.center_id, on=submitted_on)
    if agreement is None:
        raise Conflict(f"the university's center has no bank agreement in force on "
                       f"{submitted_on.isoformat()}", code="no_agreement")
    batch = Batch(
        university_id=university.id, center_id=university.center_id,
        bank_id=agreement.bank_id, agreement_id=agreement.id, submitted_on=submitted_on,
        deadline_working_days=agreement.approval_deadline_working_days,
        deadline_on=WorkingCalendar(session).add_working_days(
            submitted_on, agreement.approval_deadline_working_days),
        submitted_by=principal.user_name,
    )
    session.add(batch)
    session.flush()
    for application in applications:
        move_on(session, application, ApplicationStatus.vetted, ApplicationStatus.submitted,
                batch_id=batch.id, bank_id=batch.bank_id)
    audit.record(session, principal, "batch.submit", batch, None,
                 audit.snapshot(batch) | {"application_ids": list(application_ids)})
    return batch


def application_years(session: Session, application_id: int) -> list[ApplicationYear]:
    return list(session.scalars(
        sa.select(ApplicationYear).where(ApplicationYear.application_id == application_id)
        .order_by(ApplicationYear.academic_year)))


def decide(
    session: Session,
    principal: Principal,
    *,
    application_id: int,
    decision: DecisionKind,
    reason: str,
    decided_on: dt.date,
) -> Decision:
    """The bank approves (consuming the university's quota of every year asked
    for) or rejects (with a reason, releasing the years) a submitted application."""
    application = get_writable(session, principal, Application, application_id,
                               Role.bank_operator)
    _in_status(application, ApplicationStatus.submitted)
    batch = session.get(Batch, application.batch_id)
    if decided_on > clock.today():
        raise InvalidInput("decided_on is in the future", "decided_on", code="future_date")
    if decided_on < batch.submitted_on:
        raise InvalidInput("decided_on is before the batch was submitted", "decided_on")
    if decision == DecisionKind.rejected and not reason.strip():
        raise InvalidInput("a rejection needs a reason", "reason")
    before = audit.snapshot(application)
    years = application_years(session, application.id)
    if decision == DecisionKind.approved:
        move_on(session, application, ApplicationStatus.submitted, ApplicationStatus.approved)
        for year in years:  # year order: concurrent approvals never deadlock
            consume_quota(session, university_id=application.university_id,
                          academic_year=year.academic_year, amount=year.amount)
    else:
        move_on(session, application, ApplicationStatus.submitted, ApplicationStatus.rejected)
        for year in years:
            year.live = None
    row = Decision(application_id=application.id, decision=decision, reason=reason,
                   decided_on=decided_on, deadline_on=batch.deadline_on,
                   late=decided_on > batch.deadline_on, decided_by=principal.user_name)
    session.add(row)
    session.flush()
    audit.record(session, principal, f"application.{decision.value}", application, before,
                 audit.snapshot(application))
    audit.record(session, principal, "decision.create", row, None, audit.snapshot(row))
    return row


def overdue_decisions(
    session: Session, principal: Principal, *, as_of: dt.date
) -> list[tuple[Application, Batch, Decision | None]]:
    """Submitted applications the bank decided after the deadline, or has not
    decided although the deadline passed before ``as_of``."""
    query = (
        select_visible(principal, Application)
        .add_columns(Batch, Decision)
        .join(Batch, Batch.id == Application.batch_id)
        .outerjoin(Decision, Decision.application_id == Application.id)
        .where(sa.or_(
            Decision.late.is_(True),
            sa.and_(Decision.id.is_(None), Batch.deadline_on < as_of),
        ))
        .order_by(Batch.deadline_on, Application.id)
    )
    return [tuple(row) for row in session.execute(query)]
