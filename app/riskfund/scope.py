"""Who sees the fund: the bank and the center of its agreement, and each
university its own share (and the fund it has a share in)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import scope_rule
from app.reference.models import Agreement
from app.riskfund.models import RiskFund, RiskFundShare


@scope_rule(RiskFund)
def _funds(principal: Principal) -> ColumnElement[bool]:
    if principal.role == Role.university_officer:
        return RiskFund.id.in_(sa.select(RiskFundShare.fund_id).where(
            RiskFundShare.university_id == principal.university_id))
    column = Agreement.bank_id if principal.role == Role.bank_operator else Agreement.center_id
    return RiskFund.agreement_id.in_(sa.select(Agreement.id).where(column == principal.org_id))


@scope_rule(RiskFundShare)
def _shares(principal: Principal) -> ColumnElement[bool]:
    if principal.role == Role.university_officer:
        return RiskFundShare.university_id == principal.university_id
    return RiskFundShare.fund_id.in_(sa.select(RiskFund.id).where(_funds(principal)))
