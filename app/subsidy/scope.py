"""Who sees subsidy statements: the claiming bank and the approving center."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import scope_rule
from app.subsidy.models import SubsidyStatement, SubsidyStatementLine


@scope_rule(SubsidyStatement)
def _statements(principal: Principal) -> ColumnElement[bool]:
    if principal.role == Role.bank_operator:
        return SubsidyStatement.bank_id == principal.bank_id
    if principal.role == Role.center_staff:
        return SubsidyStatement.center_id == principal.center_id
    return sa.false()  # universities neither claim nor pay the subsidy


@scope_rule(SubsidyStatementLine)
def _lines(principal: Principal) -> ColumnElement[bool]:
    return SubsidyStatementLine.statement_id.in_(
        sa.select(SubsidyStatement.id).where(_statements(principal)))
