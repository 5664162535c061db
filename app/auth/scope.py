"""What each caller may see and write: the one place scoping is decided.

* admin: everything;
* center_staff: its center, the center's universities (and their enrolment),
  the center's agreements, and every bank (a center tenders among all banks);
* bank_operator: its bank, its agreements, and read-only the centers and
  universities under those agreements;
* university_officer: itself, its enrolment, and read-only its center, the
  center's agreements and their banks (it submits borrowers to that bank).

What a caller may not see answers 404 as if it did not exist (``NotFound``);
a visible resource the caller's role may not change answers 403
(``Forbidden``).  Later modules register the rule of their own models with
``@scope_rule(Model)``; a rule never needs to handle admin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.audit.models import AuditRecord
from app.auth.models import OrgType, Role, User
from app.auth.principal import Principal
from app.errors import Forbidden, InvalidInput, NotFound
from app.reference.models import Agreement, Bank, Center, Enrolment, University

M = TypeVar("M")
ScopeRule = Callable[[Principal], ColumnElement[bool]]

_RULES: dict[type, ScopeRule] = {}


def scope_rule(model: type) -> Callable[[ScopeRule], ScopeRule]:
    """Register the visibility rule (a WHERE clause on ``model``) of ``model``."""

    def register(rule: ScopeRule) -> ScopeRule:
        _RULES[model] = rule
        return rule

    return register


def visible(principal: Principal, model: type) -> ColumnElement[bool]:
    """The WHERE clause selecting the rows of ``model`` that ``principal`` may see."""
    if principal.role == Role.admin:
        return sa.true()
    return _RULES[model](principal)


def select_visible(principal: Principal, model: type[M]) -> sa.Select[tuple[M]]:
    return sa.select(model).where(visible(principal, model))


def get_visible(
    session: Session,
    principal: Principal,
    model: type[M],
    id_: int,
    *,
    field: str | None = None,
) -> M:
    """The row ``id_`` of ``model`` if ``principal`` may see it.

    Otherwise ``NotFound`` for an id from the path, or, with ``field`` (an id
    given in the request body), ``InvalidInput`` naming that field.
    """
    row = session.scalars(
        select_visible(principal, model).where(model.id == id_)  # type: ignore[attr-defined]
    ).one_or_none()
    if row is None:
        message = f"{model.__name__} {id_} not found"
        if field is not None:
            raise InvalidInput(message, field)
        raise NotFound(message)
    return row


def require_role(principal: Principal, *roles: Role) -> None:
    """403 unless ``principal`` has one of ``roles`` (admin always may)."""
    if principal.role != Role.admin and principal.role not in roles:
        raise Forbidden(f"role {principal.role.value} may not do this")


def get_writable(
    session: Session, principal: Principal, model: type[M], id_: int, *roles: Role
) -> M:
    """``get_visible`` (404) then ``require_role`` (403)."""
    row = get_visible(session, principal, model, id_)
    require_role(principal, *roles)
    return row


# -- the rules of the reference data ---------------------------------------


def _bank_center_ids(principal: Principal) -> sa.Select[Any]:
    return sa.select(Agreement.center_id).where(Agreement.bank_id == principal.bank_id)


def _own_center_id(principal: Principal) -> Any:
    """The caller's center: its own, or its university's."""
    if principal.role == Role.center_staff:
        return principal.center_id
    return (
        sa.select(University.center_id)
        .where(University.id == principal.university_id)
        .scalar_subquery()
    )


@scope_rule(Center)
def _centers(principal: Principal) -> ColumnElement[bool]:
    if principal.role == Role.bank_operator:
        return Center.id.in_(_bank_center_ids(principal))
    return Center.id == _own_center_id(principal)


@scope_rule(University)
def _universities(principal: Principal) -> ColumnElement[bool]:
    if principal.role == Role.university_officer:
        return University.id == principal.university_id
    if principal.role == Role.bank_operator:
        return University.center_id.in_(_bank_center_ids(principal))
    return University.center_id == principal.center_id


@scope_rule(Bank)
def _banks(principal: Principal) -> ColumnElement[bool]:
    if principal.role == Role.center_staff:
        return sa.true()
    if principal.role == Role.bank_operator:
        return Bank.id == principal.bank_id
    return Bank.id.in_(
        sa.select(Agreement.bank_id).where(Agreement.center_id == _own_center_id(principal))
    )


@scope_rule(Agreement)
def _agreements(principal: Principal) -> ColumnElement[bool]:
    if principal.role == Role.bank_operator:
        return Agreement.bank_id == principal.bank_id
    return Agreement.center_id == _own_center_id(principal)


@scope_rule(Enrolment)
def _enrolment(principal: Principal) -> ColumnElement[bool]:
    return Enrolment.university_id.in_(
        sa.select(University.id).where(_universities(principal))
    )


@scope_rule(User)
def _users(principal: Principal) -> ColumnElement[bool]:
    """Users of the caller's own organisation."""
    org_column = {
        OrgType.center: User.center_id,
        OrgType.university: User.university_id,
        OrgType.bank: User.bank_id,
    }[principal.org_type]
    return org_column == principal.org_id


@scope_rule(AuditRecord)
def _audit(principal: Principal) -> ColumnElement[bool]:
    """What the users of the caller's organisation did."""
    return AuditRecord.user_id.in_(sa.select(User.id).where(_users(principal)))
