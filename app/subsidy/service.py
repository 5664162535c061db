"""Issued subsidy statements: the center approves them and records finance's payment.

Statements are issued on settlement dates by ``app.subsidy.settlement``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import clock
from app.audit.service import record, snapshot
from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import get_writable
from app.db import money_total
from app.errors import Conflict, InvalidInput
from app.ledger.service import NewEntry, balanced_legs, post
from app.subsidy.models import (
    StatementStatus,
    SubsidyStatement,
    SubsidyStatementLine,
)


def approve(session: Session, principal: Principal, *, statement_id: int) -> SubsidyStatement:
    """The center approves the statement's claim for payment by finance."""
    statement = get_writable(session, principal, SubsidyStatement, statement_id, Role.center_staff)
    if statement.status != StatementStatus.issued:
        raise Conflict(f"statement {statement_id} is {statement.status.value}, not issued",
                       code="wrong_status")
    before = snapshot(statement)
    statement.status = StatementStatus.approved
    statement.approved_on = clock.today()
    statement.approved_by = principal.user_name
    session.flush()
    record(session, principal, "subsidy_statement.approve", statement, before, snapshot(statement))
    return statement


def pay(
    session: Session, principal: Principal, *, statement_id: int, paid_on: dt.date
) -> SubsidyStatement:
    """Finance has paid the approved statement: bank cash in, the receivable cleared.

    One ledger entry per statement with a pair of legs per loan (its net on
    the statement), so each loan's ``subsidy_receivable`` stays explainable:
    it is what was claimed for the loan and not yet paid.
    """
    statement = get_writable(session, principal, SubsidyStatement, statement_id, Role.center_staff)
    if statement.status != StatementStatus.approved:
        raise Conflict(f"statement {statement_id} is {statement.status.value}, not approved",
                       code="wrong_status")
    if not statement.settlement_date <= paid_on <= clock.today():
        raise InvalidInput("paid_on must lie between the settlement date and today",
                           field="paid_on")
    legs = tuple(leg for loan_id, amount in _net_per_loan(session, statement.id)
                 for leg in balanced_legs(("bank_cash", "subsidy_receivable", amount),
                                          loan_id=loan_id))
    before = snapshot(statement)
    if legs:
        [statement.payment_entry_id] = post(session, [NewEntry(
            key=f"subsidy_statement:{statement.id}:payment", kind="subsidy_payment",
            value_date=paid_on, legs=legs, memo=f"subsidy statement {statement.id} paid")],
            posted_by=principal.user_name)
    statement.status = StatementStatus.paid
    statement.paid_on = paid_on
    session.flush()
    record(session, principal, "subsidy_statement.pay", statement, before, snapshot(statement))
    return statement


def _net_per_loan(session: Session, statement_id: int) -> list[tuple[int, Decimal]]:
    """Each loan's net on the statement (its lines summed in SQL), by loan id."""
    line = SubsidyStatementLine
    net = money_total(line.amount)
    return [(loan_id, amount) for loan_id, amount in session.execute(
        sa.select(line.loan_id, net).where(line.statement_id == statement_id)
        .group_by(line.loan_id).order_by(line.loan_id))]
