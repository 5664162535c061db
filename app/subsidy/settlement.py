"""Settlement day, set-based: the ledger's subsidy claims become statements.

Servicing books each engine claim as a ledger entry (slot ``claim:<date>``)
and re-books it by reversal when a late event changes it.  So what a loan's
claims are *now* is the ledger's ``subsidy_receivable`` booked under its
claim slots, and what has been claimed *before* is the sum of its statement
lines.  A settlement run puts the difference, per loan and claim date, on
one new statement per bank and center: the engine's claims for the date
itself as claim lines, changes to earlier dates as adjustment lines.  A
statement, once issued, is never edited; the next one carries any change.

Memory stays flat at any portfolio size: the database does the per-loan
work.  Python holds the few (policy, frequency) pairs due on the date, one
chunk of loan ids at a time while stale loans are serviced (in bulk,
``service_loans``), and counts.  The differences are one aggregate over the
claim legs and the statement lines (``UNION ALL`` + ``GROUP BY``: a full
outer join of the two sums in one pass, portable to any SQLite), kept in a
temporary table; statements, their totals and their lines are written from
it by ``INSERT … SELECT``.  Nothing is ever held per loan, not even per
statement.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import now_utc
from app.config import get_settings
from app.db import ID_TYPE, MONEY, money_total
from app.engine.dates import MONTHS, is_frequency_date
from app.ledger.models import Account, JournalEntry, JournalLeg
from app.money import ZERO
from app.policy import policies
from app.reference.models import Center, CenterLevel
from app.servicing.batch import service_loans
from app.servicing.models import Loan
from app.subsidy.models import (
    FinanceLevel,
    LineKind,
    StatementStatus,
    SubsidyStatement,
    SubsidyStatementLine,
)

JOB_NAME = "subsidy settlement job"
CLAIM_SLOT = "claim:"
_COUNTED = {"preserve_rowcount": True}  # INSERT … SELECT's row count (psycopg reports it)


@dataclass(frozen=True)
class SettlementSummary:
    business_date: dt.date
    loans_due: int
    loans_serviced: int
    statements_created: int
    lines: int
    total: Decimal


# What the run puts on statements: one row per loan and claim date that changed.
_changes = sa.Table(
    "subsidy_settlement_changes", sa.MetaData(),
    sa.Column("loan_id", ID_TYPE), sa.Column("bank_id", ID_TYPE), sa.Column("center_id", ID_TYPE),
    sa.Column("claim_date", sa.Date), sa.Column("kind", sa.String(32)),
    sa.Column("previously_claimed", MONEY), sa.Column("claim_amount", MONEY),
    sa.Column("amount", MONEY),
    prefixes=["TEMPORARY"], postgresql_on_commit="DROP",
)


def settle(session: Session, business_date: dt.date) -> SettlementSummary:
    """The settlement-day job: service the loans due, issue the day's statements.

    Keyed by date: a statement exists at most once per bank, center and
    settlement date, so running the same date again issues and posts nothing
    (what changed since waits for the next settlement date).
    """
    due = _due(business_date)
    if due is None:
        return SettlementSummary(business_date, 0, 0, 0, 0, ZERO)
    loans_due = session.scalar(sa.select(sa.func.count()).select_from(Loan).where(due))
    serviced = _service_stale(session, due, business_date)
    _changes.create(session.connection())
    session.execute(_changes.insert().from_select(
        [c.name for c in _changes.c], _differences(session, due, business_date)))
    created, lines, total = _issue(session, business_date)
    _changes.drop(session.connection())
    return SettlementSummary(business_date, loans_due, serviced, created, lines, total)


def _due(day: dt.date) -> sa.ColumnElement[bool] | None:
    """Loans with events whose own settlement frequency has a date on ``day``.

    The (policy, frequency) pairs due are few: worked out here by the
    calendar rule, matched in SQL.  None when no loan can be due.
    """
    pairs = [(code, frequency) for code, policy in policies().items() for frequency in MONTHS
             if is_frequency_date(frequency, policy.calendar.due_day, day)]
    if not pairs:
        return None
    return sa.and_(
        sa.or_(Loan.serviced_through.is_not(None), Loan.dirty_from.is_not(None)),
        sa.or_(*(sa.and_(Loan.policy_code == code, Loan.subsidy_settlement == frequency)
                 for code, frequency in pairs)))


def _service_stale(session: Session, due: sa.ColumnElement[bool], day: dt.date) -> int:
    """Service the due loans still dirty or behind ``day``, a chunk of ids at a time
    (``service_loans`` runs on those that need it); returns how many it serviced."""
    stale = sa.or_(Loan.dirty_from.is_not(None), Loan.serviced_through < day)
    size, after, serviced = get_settings().jobs_chunk_size, 0, 0
    while ids := session.scalars(sa.select(Loan.id).where(due, stale, Loan.id > after)
                                 .order_by(Loan.id).limit(size)).all():
        serviced += service_loans(session, list(ids), through=day, posted_by=JOB_NAME).loans
        after = ids[-1]
    if serviced:
        session.expire_all()  # the loans' rows were written in bulk
    return serviced


def _differences(session: Session, due: sa.ColumnElement[bool], day: dt.date) -> sa.Select:
    """Per due loan and claim date: the claim booked now (claim-slot legs on
    ``subsidy_receivable`` valued by ``day``, reversals netted) against the sum of
    its statement lines so far, where they differ — in the columns of ``_changes``."""
    receivable = session.scalar(sa.select(Account.id).where(Account.code == "subsidy_receivable"))
    zero = sa.literal_column("0")
    booked = (
        sa.select(Loan.id, Loan.bank_id, Loan.center_id, _slot_date(session).label("claim_date"),
                  JournalLeg.amount.label("now"), zero.label("before"))
        .join(JournalEntry, JournalEntry.loan_id == Loan.id)
        .join(JournalLeg, JournalLeg.entry_id == JournalEntry.id)
        .where(due, JournalEntry.slot.like(f"{CLAIM_SLOT}%"), JournalEntry.value_date <= day,
               JournalLeg.account_id == receivable))
    line = SubsidyStatementLine
    stated = (
        sa.select(Loan.id, Loan.bank_id, Loan.center_id, line.claim_date, zero, line.amount)
        .join(line, line.loan_id == Loan.id).where(due))
    both = sa.union_all(booked, stated).subquery()
    now, before = money_total(both.c.now), money_total(both.c.before)
    kind = sa.case((both.c.claim_date == day, LineKind.claim.value),
                   else_=LineKind.adjustment.value)
    # Each side is in fen already; on SQLite their REAL difference may carry
    # a float residue, so it is rounded again.
    return (sa.select(both.c.id, both.c.bank_id, both.c.center_id, both.c.claim_date, kind,
                      before, now, sa.func.round(now - before, 2))
            .group_by(both.c.id, both.c.bank_id, both.c.center_id, both.c.claim_date)
            .having(now != before))


def _slot_date(session: Session) -> sa.ColumnElement[dt.date]:
    """The claim date in a ``claim:<date>`` slot (SQLite keeps dates as ISO text)."""
    text = sa.func.substr(JournalEntry.slot, len(CLAIM_SLOT) + 1)
    if session.get_bind().dialect.name == "sqlite":
        return sa.type_coerce(text, sa.Date)
    return sa.cast(text, sa.Date)


def _issue(session: Session, day: dt.date) -> tuple[int, int, Decimal]:
    """Statements (with their totals) and lines from ``_changes``, by INSERT … SELECT.

    A bank and center whose statement for ``day`` exists already get nothing:
    their changes are dropped from the run and wait for the next date.
    Returns statements created, lines written and their total.
    """
    c, statement = _changes.c, SubsidyStatement
    issued = sa.select(statement.id).where(
        statement.bank_id == c.bank_id, statement.center_id == c.center_id,
        statement.settlement_date == day)
    session.execute(_changes.delete().where(issued.exists()))
    claims = money_total(sa.case((c.kind == LineKind.claim.value, c.amount), else_=0))
    adjustments = money_total(sa.case((c.kind == LineKind.adjustment.value, c.amount), else_=0))
    level = sa.case((Center.level == CenterLevel.national.value, FinanceLevel.central.value),
                    else_=FinanceLevel.provincial.value)
    created = session.execute(statement.__table__.insert().from_select(
        ["bank_id", "center_id", "finance_level", "settlement_date", "claims_total",
         "adjustments_total", "total", "status", "created_at"],
        sa.select(c.bank_id, c.center_id, level, sa.literal(day, sa.Date),
                  claims, adjustments, money_total(c.amount),
                  sa.literal(StatementStatus.issued.value),
                  sa.literal(now_utc(), statement.__table__.c.created_at.type))
        .join(Center, Center.id == c.center_id)
        .group_by(c.bank_id, c.center_id, Center.level)
        .order_by(c.bank_id, c.center_id)), execution_options=_COUNTED).rowcount
    if not created:
        return 0, 0, ZERO
    line = SubsidyStatementLine
    lines = session.execute(line.__table__.insert().from_select(
        ["statement_id", "loan_id", "kind", "claim_date", "previously_claimed", "claim_amount",
         "amount"],
        sa.select(statement.id, c.loan_id, c.kind, c.claim_date, c.previously_claimed,
                  c.claim_amount, c.amount)
        .join(statement, sa.and_(statement.bank_id == c.bank_id,
                                 statement.center_id == c.center_id,
                                 statement.settlement_date == day))
        .order_by(statement.id, c.loan_id, c.claim_date)), execution_options=_COUNTED).rowcount
    return created, lines, session.scalar(sa.select(money_total(c.amount)))
