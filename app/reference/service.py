"""Reference data writes and queries.  Keyword-only, take a ``Session``, never commit.

Every write checks the caller's scope and role (``app.auth.scope``) and is
audited (``app.audit.record``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import audit
from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import get_visible, get_writable, require_role
from app.db import Base
from app.errors import Conflict, InvalidInput
from app.reference.models import (
    Agreement,
    Bank,
    Center,
    CenterLevel,
    Enrolment,
    StudentCategory,
    University,
)

E = TypeVar("E", bound=Base)

# Who may change what (beyond seeing it): admin always.
WRITERS: dict[type[Base], tuple[Role, ...]] = {
    Center: (),
    Bank: (),
    University: (Role.center_staff,),
    Agreement: (Role.center_staff,),
    Enrolment: (Role.center_staff, Role.university_officer),
}


def _flush(session: Session, conflict: str) -> None:
    """Flush in a savepoint; a constraint the database refuses becomes ``Conflict``."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(conflict) from None


def _create(session: Session, principal: Principal, entity: E) -> E:
    session.add(entity)
    name = type(entity).__name__
    _flush(session, f"{name} conflicts with an existing one (duplicate name or code?)")
    audit.record(session, principal, "create", entity, None, audit.snapshot(entity))
    return entity


def _update(
    session: Session,
    principal: Principal,
    entity: E,
    changes: dict[str, Any],
    check: Callable[[E], None] | None = None,
) -> E:
    before = audit.snapshot(entity)
    for key, value in changes.items():
        setattr(entity, key, value)
    if check is not None:
        check(entity)
    _flush(session, f"{type(entity).__name__} conflicts with an existing one")
    audit.record(session, principal, "update", entity, before, audit.snapshot(entity))
    return entity


def delete(session: Session, principal: Principal, *, model: type[Base], id_: int) -> None:
    """Delete a row the caller may write; 409 while anything refers to it."""
    entity = get_writable(session, principal, model, id_, *WRITERS[model])
    before = audit.snapshot(entity)
    session.delete(entity)
    _flush(session, f"{model.__name__} {id_} is still referred to and cannot be deleted")
    audit.record(session, principal, "delete", entity, before, None)


# -- centers ----------------------------------------------------------------


def create_center(
    session: Session,
    principal: Principal,
    *,
    name: str,
    level: CenterLevel,
    province_code: str | None,
) -> Center:
    require_role(principal, *WRITERS[Center])
    return _create(
        session, principal, Center(name=name, level=level, province_code=province_code)
    )


def update_center(
    session: Session, principal: Principal, *, center_id: int, changes: dict[str, Any]
) -> Center:
    center = get_writable(session, principal, Center, center_id, *WRITERS[Center])
    return _update(session, principal, center, changes)


# -- universities ------------------------------------------------------------


def create_university(
    session: Session,
    principal: Principal,
    *,
    name: str,
    code: str,
    center_id: int,
    staff_count: int = 0,
) -> University:
    require_role(principal, *WRITERS[University])
    get_visible(session, principal, Center, center_id, field="center_id")
    university = University(name=name, code=code, center_id=center_id, staff_count=staff_count)
    return _create(session, principal, university)


def update_university(
    session: Session, principal: Principal, *, university_id: int, changes: dict[str, Any]
) -> University:
    university = get_writable(
        session, principal, University, university_id, *WRITERS[University]
    )
    if "center_id" in changes:
        get_visible(session, principal, Center, changes["center_id"], field="center_id")
    return _update(session, principal, university, changes)


# -- banks -------------------------------------------------------------------


def create_bank(session: Session, principal: Principal, *, name: str, code: str) -> Bank:
    require_role(principal, *WRITERS[Bank])
    return _create(session, principal, Bank(name=name, code=code))


def update_bank(
    session: Session, principal: Principal, *, bank_id: int, changes: dict[str, Any]
) -> Bank:
    bank = get_writable(session, principal, Bank, bank_id, *WRITERS[Bank])
    return _update(session, principal, bank, changes)


# -- agreements --------------------------------------------------------------


def _check_agreement(agreement: Agreement) -> None:
    if agreement.valid_to is not None and agreement.valid_to < agreement.valid_from:
        raise InvalidInput("valid_to is before valid_from", "valid_to")


def create_agreement(
    session: Session, principal: Principal, *, center_id: int, bank_id: int, **terms: Any
) -> Agreement:
    """``terms``: valid_from, valid_to, approval_deadline_working_days,
    risk_compensation_rate, subsidy_settlement, rate_rule."""
    require_role(principal, *WRITERS[Agreement])
    get_visible(session, principal, Center, center_id, field="center_id")
    get_visible(session, principal, Bank, bank_id, field="bank_id")
    agreement = Agreement(center_id=center_id, bank_id=bank_id, **terms)
    _check_agreement(agreement)
    return _create(session, principal, agreement)


def update_agreement(
    session: Session, principal: Principal, *, agreement_id: int, changes: dict[str, Any]
) -> Agreement:
    agreement = get_writable(session, principal, Agreement, agreement_id, *WRITERS[Agreement])
    return _update(session, principal, agreement, changes, _check_agreement)


def agreement_in_force(
    session: Session, *, center_id: int, on: dt.date, bank_id: int | None = None
) -> Agreement | None:
    """The center's agreement valid on date ``on`` (with ``bank_id``, with that bank);
    the most recent one when several are."""
    query = sa.select(Agreement).where(
        Agreement.center_id == center_id,
        Agreement.valid_from <= on,
        sa.or_(Agreement.valid_to.is_(None), Agreement.valid_to >= on),
    )
    if bank_id is not None:
        query = query.where(Agreement.bank_id == bank_id)
    return session.scalars(
        query.order_by(Agreement.valid_from.desc(), Agreement.id.desc()).limit(1)
    ).first()


# -- enrolment ---------------------------------------------------------------


def create_enrolment(
    session: Session,
    principal: Principal,
    *,
    university_id: int,
    academic_year: str,
    category: StudentCategory,
    full_time: bool,
    count: int,
) -> Enrolment:
    get_writable(session, principal, University, university_id, *WRITERS[Enrolment])
    duplicate = session.scalar(
        sa.select(Enrolment.id).where(
            Enrolment.university_id == university_id,
            Enrolment.academic_year == academic_year,
            Enrolment.category == category,
            Enrolment.full_time == full_time,
        )
    )
    if duplicate is not None:
        raise Conflict(
            f"enrolment {duplicate} already counts this year, category and mode; update it",
            details={"enrolment_id": duplicate},
        )
    enrolment = Enrolment(
        university_id=university_id,
        academic_year=academic_year,
        category=category,
        full_time=full_time,
        count=count,
    )
    return _create(session, principal, enrolment)


def update_enrolment(
    session: Session, principal: Principal, *, enrolment_id: int, changes: dict[str, Any]
) -> Enrolment:
    enrolment = get_writable(session, principal, Enrolment, enrolment_id, *WRITERS[Enrolment])
    return _update(session, principal, enrolment, changes)


def eligible_full_time_enrolment(
    session: Session, *, university_id: int, academic_year: str
) -> int:
    """Full-time students of the year (the quota base's head count); every
    ``StudentCategory`` is an eligible one."""
    total = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Enrolment.count), 0)).where(
            Enrolment.university_id == university_id,
            Enrolment.academic_year == academic_year,
            Enrolment.full_time.is_(True),
        )
    )
    return int(total or 0)
