"""Who sees what of origination: a university its own, a bank what was
submitted to it (and its contracts), a center its universities'."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import scope_rule, visible
from app.origination.models import AddressReport, Application, Batch, ContractYear, Quota
from app.reference.models import University
from app.servicing.models import Loan


def _org_rule(principal: Principal, university_id, center_id, bank_id) -> ColumnElement[bool]:
    if principal.role == Role.university_officer:
        return university_id == principal.university_id
    if principal.role == Role.bank_operator:
        return bank_id == principal.bank_id
    return center_id == principal.center_id


@scope_rule(Application)
def _applications(principal: Principal) -> ColumnElement[bool]:
    return _org_rule(principal, Application.university_id, Application.center_id,
                     Application.bank_id)


@scope_rule(Batch)
def _batches(principal: Principal) -> ColumnElement[bool]:
    return _org_rule(principal, Batch.university_id, Batch.center_id, Batch.bank_id)


@scope_rule(Quota)
def _quotas(principal: Principal) -> ColumnElement[bool]:
    """Quotas of the universities the caller sees (banks: under their agreements)."""
    return Quota.university_id.in_(
        sa.select(University.id).where(visible(principal, University)))


@scope_rule(ContractYear)
def _contract_years(principal: Principal) -> ColumnElement[bool]:
    return ContractYear.loan_id.in_(sa.select(Loan.id).where(visible(principal, Loan)))


@scope_rule(AddressReport)
def _address_reports(principal: Principal) -> ColumnElement[bool]:
    return AddressReport.loan_id.in_(sa.select(Loan.id).where(visible(principal, Loan)))
