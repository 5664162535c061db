"""Applying posted bank lines: their loan events, when the loan is next serviced.

Processing a file posts each good repayment or reversal line as the bank's
receipt, matched to its loan (``app.bankfiles.processing``); the line is
*pending* until the loan is serviced.  The nightly job's chunk first calls
``apply_pending`` for its loans: each pending line becomes the loan event it
stands for (a payment, or the reversal of the payment it names), in line
order, keeps the event's id, and the loan is dirty from the earliest value
date (handed to the chunk's servicing, or marked on the loan's row for a
caller that does not service it at once); servicing then runs as for any
new event (the engine allocates the payment, the ledger books its
application from the clearing account, a backdated one replays the loan).
Writes are bulk: ``COPY`` of the events, one update of the lines (and of
the loans when marked).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import clock
from app.bankfiles.models import PENDING, BankLine, BankUpload
from app.db import allocate_ids, copy_rows, money_total, one_of, update_rows
from app.ledger.models import Account, JournalLeg
from app.money import ZERO
from app.reference.models import Bank
from app.servicing.models import EventKind, Loan, LoanEvent
from app.servicing.receipts import CLEARING

EVENT_COLUMNS = ("id", "loan_id", "kind", "event_date", "amount", "data", "reverses_event_id",
                 "source", "external_ref", "recorded_by", "created_at")


def pending_loans(through: dt.date) -> sa.Select:
    """The loans with posted lines to apply by ``through`` (``ix_bank_lines_pending``)."""
    return sa.select(BankLine.loan_id).where(sa.text(PENDING), BankLine.value_date <= through)


def apply_pending(session: Session, *, lo: int, hi: int, through: dt.date,
                  recorded_by: str, mark_dirty: bool = True) -> dict[int, dt.date]:
    """Record the loan events of the pending lines of loans ``lo``..``hi`` valued by
    ``through`` (a later one waits for its date's run); returns the loans they
    were applied to, each with its earliest new value date.  The loans are
    marked dirty from it, unless the caller services them in the same
    transaction (``service_range(dirty=…)``) and says ``mark_dirty=False``.
    The lines are locked, so two callers never apply one twice."""
    rows = session.execute(
        sa.select(BankLine.id, BankLine.upload_id, BankLine.bank_id, BankLine.loan_id,
                  BankLine.type, BankLine.amount, BankLine.value_date, BankLine.txn_key,
                  BankLine.reverses)
        .where(sa.text(PENDING), BankLine.loan_id.between(lo, hi),
               BankLine.value_date <= through)
        .order_by(BankLine.id).with_for_update()).all()
    if not rows:
        return {}
    recorded = _recorded_payments(session, [r for r in rows if r.type == "REVERSAL"])
    # The lines applied now, each with what its event reverses: the id of a
    # payment recorded before, or the position of one applied now.
    applied: list[tuple[sa.Row, int | None, int | None]] = []
    applying: dict[tuple[int, str], int] = {}
    for r in rows:
        if r.type != "REVERSAL":
            applying[(r.bank_id, r.txn_key)] = len(applied)
            applied.append((r, None, None))
        elif (position := applying.get((r.bank_id, r.reverses))) is not None:
            applied.append((r, None, position))
        elif (event_id := recorded.get((r.bank_id, r.reverses))) is not None:
            applied.append((r, event_id, None))
        # else: its payment's value date has not come yet; it waits
    if not applied:
        return {}
    ids = allocate_ids(session, LoanEvent.__table__, len(applied))
    now = clock.now_utc()
    events = []
    for (r, reverses, position), event_id in zip(applied, ids, strict=True):
        if position is not None:
            reverses = ids[position]
        kind = EventKind.payment_reversal if r.type == "REVERSAL" else EventKind.payment
        events.append((event_id, r.loan_id, kind, r.value_date, r.amount, {}, reverses,
                       f"bankfile:{r.upload_id}", r.txn_key, recorded_by, now))
    copy_rows(session, LoanEvent.__table__, EVENT_COLUMNS, events)
    update_rows(session, BankLine.__table__, "id",
                [{"id": r.id, "loan_event_id": event_id}
                 for (r, _, _), event_id in zip(applied, ids, strict=True)])
    earliest: dict[int, dt.date] = {}
    for r, _, _ in applied:
        earliest[r.loan_id] = min(r.value_date, earliest.get(r.loan_id, r.value_date))
    if mark_dirty:
        update_rows(session, Loan.__table__, "id",
                    [{"id": loan_id, "dirty_from": day} for loan_id, day in earliest.items()],
                    earlier=frozenset({"dirty_from"}))
        session.expire_all()  # the loans' rows were written in bulk
    return earliest


def _recorded_payments(session: Session, reversals: list) -> dict[tuple[int, str], int]:
    """(bank, transaction id) -> event id of the recorded payments these reversal
    lines name: a line's applied payment, or one recorded through the API."""
    found: dict[tuple[int, str], int] = {}
    for bank_id in {r.bank_id for r in reversals}:
        refs = list({r.reverses for r in reversals if r.bank_id == bank_id})
        found |= {(bank_id, txn): event_id for txn, event_id in session.execute(
            sa.select(BankLine.txn_key, BankLine.loan_event_id)
            .where(BankLine.bank_id == bank_id, one_of(session, BankLine.txn_key, refs),
                   BankLine.loan_event_id.is_not(None)))}
        for txn, event_id in session.execute(
                sa.select(LoanEvent.external_ref, LoanEvent.id)
                .join(Loan, Loan.id == LoanEvent.loan_id)
                .where(Loan.bank_id == bank_id, LoanEvent.kind == EventKind.payment,
                       one_of(session, LoanEvent.external_ref, refs))
                .order_by(LoanEvent.id)):
            found.setdefault((bank_id, txn), event_id)
    return found


def receipts_difference(session: Session) -> tuple[Decimal, Decimal]:
    """(receipts booked, receipts due) on ``repayments_clearing``: its legs without
    a loan (the receipts; its loans' legs are the applications) against the
    payments they are for — every payment and reversal event recorded, and
    every posted line not yet applied.  Equal when each payment was receipted
    exactly once (``loans ledger verify``)."""
    booked = session.scalar(
        sa.select(money_total(JournalLeg.amount))
        .join(Account, Account.id == JournalLeg.account_id)
        .where(Account.code == CLEARING, JournalLeg.loan_id.is_(None)))
    signed = sa.case((LoanEvent.kind == EventKind.payment_reversal, -LoanEvent.amount),
                     else_=LoanEvent.amount)
    recorded = session.scalar(
        sa.select(money_total(signed))
        .where(LoanEvent.kind.in_([EventKind.payment, EventKind.payment_reversal])))
    signed = sa.case((BankLine.type == "REVERSAL", -BankLine.amount), else_=BankLine.amount)
    pending = session.scalar(sa.select(money_total(signed)).where(sa.text(PENDING)))
    return booked, ZERO - (recorded + pending)


def dangling_line_references(session: Session) -> dict[str, int]:
    """Bank lines naming an upload, bank, loan or loan event that does not exist,
    by column (only those with any).  ``bank_lines`` has no foreign keys (a
    file's COPY would pay a check per line, migrations 0013 and 0014), so
    ``loans ledger verify`` looks for what they would have refused."""
    references = {column.key: ~sa.exists().where(target == column) & column.is_not(None)
                  for column, target in ((BankLine.upload_id, BankUpload.id),
                                         (BankLine.bank_id, Bank.id),
                                         (BankLine.loan_id, Loan.id),
                                         (BankLine.loan_event_id, LoanEvent.id))}
    counts = session.execute(sa.select(*(
        sa.func.count().filter(dangling).label(name) for name, dangling in references.items()
    )).select_from(BankLine)).one()
    return {name: count for name, count in counts._asdict().items() if count}
