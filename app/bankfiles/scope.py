"""Who sees bank files: a bank its own; a center the banks it has agreements with."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import scope_rule
from app.bankfiles.models import BankLine, BankUpload
from app.reference.models import Agreement


def _bank_visible(principal: Principal, bank_id: sa.ColumnElement[int]) -> ColumnElement[bool]:
    if principal.role == Role.bank_operator:
        return bank_id == principal.bank_id
    if principal.role == Role.center_staff:
        return bank_id.in_(
            sa.select(Agreement.bank_id).where(Agreement.center_id == principal.center_id))
    return sa.false()


@scope_rule(BankUpload)
def _uploads(principal: Principal) -> ColumnElement[bool]:
    return _bank_visible(principal, BankUpload.bank_id)


@scope_rule(BankLine)
def _lines(principal: Principal) -> ColumnElement[bool]:
    return _bank_visible(principal, BankLine.bank_id)
