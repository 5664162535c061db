"""Who sees which loans: a university its students', a bank its own, a center its universities'."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import scope_rule
from app.servicing.models import Borrower, Loan, LoanEvent


@scope_rule(Loan)
def _loans(principal: Principal) -> ColumnElement[bool]:
    if principal.role == Role.university_officer:
        return Loan.university_id == principal.university_id
    if principal.role == Role.bank_operator:
        return Loan.bank_id == principal.bank_id
    return Loan.center_id == principal.center_id


@scope_rule(LoanEvent)
def _events(principal: Principal) -> ColumnElement[bool]:
    return LoanEvent.loan_id.in_(sa.select(Loan.id).where(_loans(principal)))


@scope_rule(Borrower)
def _borrowers(principal: Principal) -> ColumnElement[bool]:
    return Borrower.id.in_(sa.select(Loan.borrower_id).where(_loans(principal)))
