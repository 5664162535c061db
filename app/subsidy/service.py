"""Settlement day: the ledger's subsidy claims become statements; the center approves and pays.

Servicing books each engine claim as a ledger entry (slot ``claim:<date>``)
and re-books it by reversal when a late event changes it.  So what a loan's
claims are *now* is the ledger's ``subsidy_receivable`` booked under its
claim slots, and what has been claimed *before* is the sum of its statement
lines.  A settlement run puts the difference, per loan and claim date, on
one new statement per bank and center: the engine's claims for the date
itself as claim lines, changes to earlier dates as adjustment lines.  A
statement, once issued, is never edited; the next one carries any change.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import clock
from app.audit.service import record, snapshot
from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import get_writable
from app.engine.dates import is_frequency_date
from app.errors import Conflict, InvalidInput
from app.ledger.models import Account, JournalEntry, JournalLeg
from app.ledger.service import NewEntry, balanced_legs, post
from app.money import ZERO, round_fen
from app.policy import get_policy
from app.reference.models import Center, CenterLevel
from app.servicing.models import Loan
from app.servicing.service import service_loan
from app.subsidy.models import (
    FinanceLevel,
    LineKind,
    StatementStatus,
    SubsidyStatement,
    SubsidyStatementLine,
)

JOB_NAME = "subsidy settlement job"
CHUNK = 500


@dataclass(frozen=True)
class SettlementSummary:
    business_date: dt.date
    loans_due: int
    loans_serviced: int
    statements_created: int
    lines: int
    total: Decimal


def _due_loans(session: Session, day: dt.date) -> list[Loan]:
    """Loans with events whose own settlement frequency has a date on ``day``."""
    loans = session.scalars(
        sa.select(Loan).where(sa.or_(Loan.serviced_through.is_not(None),
                                     Loan.dirty_from.is_not(None))).order_by(Loan.id)
    )
    return [loan for loan in loans if is_frequency_date(
        loan.subsidy_settlement, get_policy(loan.policy_code).calendar.due_day, day)]


def _booked_claims(
    session: Session, loan_ids: list[int], through: dt.date
) -> dict[tuple[int, dt.date], Decimal]:
    """Per loan and claim date: the claim the ledger books now (reversals netted)."""
    rows = session.execute(
        sa.select(JournalEntry.loan_id, JournalEntry.slot, sa.func.sum(JournalLeg.amount))
        .join(JournalLeg, JournalLeg.entry_id == JournalEntry.id)
        .join(Account, Account.id == JournalLeg.account_id)
        .where(Account.code == "subsidy_receivable", JournalEntry.slot.like("claim:%"),
               JournalEntry.loan_id.in_(loan_ids), JournalEntry.value_date <= through)
        .group_by(JournalEntry.loan_id, JournalEntry.slot)
    ).all()
    return {(loan_id, dt.date.fromisoformat(slot.removeprefix("claim:"))):
            round_fen(Decimal(str(total))) for loan_id, slot, total in rows}


def _stated_claims(session: Session, loan_ids: list[int]) -> dict[tuple[int, dt.date], Decimal]:
    """Per loan and claim date: the sum of its lines on every statement so far."""
    line = SubsidyStatementLine
    rows = session.execute(
        sa.select(line.loan_id, line.claim_date, sa.func.sum(line.amount))
        .where(line.loan_id.in_(loan_ids)).group_by(line.loan_id, line.claim_date)
    ).all()
    return {(loan_id, day): round_fen(Decimal(str(total))) for loan_id, day, total in rows}


def _finance_level(center: Center) -> FinanceLevel:
    return FinanceLevel.central if center.level == CenterLevel.national else FinanceLevel.provincial


def settle(session: Session, business_date: dt.date) -> SettlementSummary:
    """The settlement-day job: service the loans due, issue the day's statements.

    Keyed by date: a statement exists at most once per bank, center and
    settlement date, so running the same date again issues and posts nothing.
    """
    loans = _due_loans(session, business_date)
    serviced = 0
    for loan in loans:
        if loan.dirty_from is not None or loan.serviced_through < business_date:
            service_loan(session, loan, through=max(business_date, loan.serviced_through
                                                    or business_date), posted_by=JOB_NAME)
            serviced += 1
    pending: dict[tuple[int, int], list[SubsidyStatementLine]] = defaultdict(list)
    for start in range(0, len(loans), CHUNK):
        chunk = {loan.id: loan for loan in loans[start:start + CHUNK]}
        booked = _booked_claims(session, list(chunk), business_date)
        stated = _stated_claims(session, list(chunk))
        for key in sorted(booked.keys() | stated.keys()):
            now, before = booked.get(key, ZERO), stated.get(key, ZERO)
            if now == before:
                continue
            loan_id, claim_date = key
            kind = LineKind.claim if claim_date == business_date else LineKind.adjustment
            loan = chunk[loan_id]
            pending[(loan.bank_id, loan.center_id)].append(SubsidyStatementLine(
                loan_id=loan_id, kind=kind, claim_date=claim_date,
                previously_claimed=before, claim_amount=now, amount=now - before))
    created, lines, total = 0, 0, ZERO
    for (bank_id, center_id), statement_lines in sorted(pending.items()):
        statement = _issue(session, bank_id, session.get(Center, center_id), business_date,
                           statement_lines)
        if statement is not None:
            created, lines = created + 1, lines + len(statement_lines)
            total += statement.total
    return SettlementSummary(business_date, len(loans), serviced, created, lines, total)


def _issue(
    session: Session, bank_id: int, center: Center, day: dt.date,
    lines: list[SubsidyStatementLine],
) -> SubsidyStatement | None:
    """A new statement with ``lines``; None if the date's statement was issued already
    (what changed since waits for the next settlement date)."""
    exists = session.scalar(sa.select(SubsidyStatement.id).where(
        SubsidyStatement.bank_id == bank_id, SubsidyStatement.center_id == center.id,
        SubsidyStatement.settlement_date == day))
    if exists is not None:
        return None
    claims = sum((x.amount for x in lines if x.kind == LineKind.claim), ZERO)
    adjustments = sum((x.amount for x in lines if x.kind == LineKind.adjustment), ZERO)
    statement = SubsidyStatement(
        bank_id=bank_id, center_id=center.id, finance_level=_finance_level(center),
        settlement_date=day, claims_total=claims, adjustments_total=adjustments,
        total=claims + adjustments, status=StatementStatus.issued)
    session.add(statement)
    session.flush()
    for line in lines:
        line.statement_id = statement.id
    session.add_all(lines)
    session.flush()
    return statement


def statement_lines(session: Session, statement_id: int) -> list[SubsidyStatementLine]:
    return list(session.scalars(
        sa.select(SubsidyStatementLine).where(SubsidyStatementLine.statement_id == statement_id)
        .order_by(SubsidyStatementLine.loan_id, SubsidyStatementLine.claim_date)))


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
    per_loan: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for line in statement_lines(session, statement.id):
        per_loan[line.loan_id] += line.amount
    legs = tuple(leg for loan_id, amount in sorted(per_loan.items())
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
