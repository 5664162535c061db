"""Daily reconciliation (对账) of one bank and one value date.

* bank total: what the bank's processed repayment files say it collected that day
  (repayments minus reversals; lines whose amount cannot be read are listed,
  not summed);
* posted: the payments minus reversals recorded that day on the bank's loans,
  from any source (bank files, exception resolutions, the API), and the
  file lines posted but not yet applied (they become events at the loan's
  next servicing; ``awaiting_application`` is their part);
* difference = bank total − posted, and the items that explain it, each with
  its share: a file line whose own postings do not add up to its amount (an
  open exception, a duplicate, a line returned to the bank), and a posting
  that no line of the day accounts for (a payment recorded through the API,
  say).  The shares always add up to the difference;
* unapplied held: the part of that day's posted payments the engine holds as
  unapplied (from the ledger), and the exceptions still open.

A line's postings are the loan events carrying its upload as source and its
transaction id as reference (its payment or reversal, and a resolution's),
or the line itself while it waits to be applied.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.bankfiles.models import BankLine, BankUpload, ExceptionStatus, Outcome, UploadStatus
from app.db import money_total
from app.ledger.models import Account, JournalEntry, JournalLeg
from app.money import ZERO, fmt
from app.servicing.models import EventKind, Loan, LoanEvent

ITEM_COLUMNS = ("item", "upload_id", "line_no", "bank_txn_id", "contract_no", "amount",
                "outcome", "reason", "exception_status", "loan_event_id", "share")


def _line_amount(line: BankLine) -> Decimal:
    if line.amount is None:
        return ZERO
    return -line.amount if line.type == "REVERSAL" else line.amount


def _waiting(line: BankLine) -> bool:
    """Posted, not yet applied (``app.bankfiles.application``)."""
    return line.outcome in (Outcome.posted, Outcome.held) and line.loan_event_id is None


def _event_amount(event: LoanEvent) -> Decimal:
    return -event.amount if event.kind == EventKind.payment_reversal else event.amount


def reconcile(session: Session, *, bank_id: int, day: dt.date) -> dict[str, Any]:
    lines = session.scalars(
        sa.select(BankLine).join(BankUpload, BankUpload.id == BankLine.upload_id)
        .where(BankLine.bank_id == bank_id, BankLine.value_date == day,
               BankLine.outcome != Outcome.ignored, BankLine.type != "DISBURSEMENT",
               BankUpload.status.in_([UploadStatus.processing, UploadStatus.done]))
        .order_by(BankLine.upload_id, BankLine.line_no)).all()
    events = session.scalars(
        sa.select(LoanEvent).join(Loan, Loan.id == LoanEvent.loan_id)
        .where(Loan.bank_id == bank_id, LoanEvent.event_date == day,
               LoanEvent.kind.in_([EventKind.payment, EventKind.payment_reversal]))
        .order_by(LoanEvent.id)).all()
    by_line: dict[tuple[str, str | None], list[LoanEvent]] = defaultdict(list)
    for event in events:
        by_line[(event.source, event.external_ref)].append(event)
    items: list[dict[str, Any]] = []
    waiting = [x for x in lines if _waiting(x)]
    for line in lines:
        own = by_line.pop((f"bankfile:{line.upload_id}", line.txn_key), []) if line.txn_key else []
        share = _line_amount(line) - sum((_event_amount(e) for e in own), ZERO)
        if _waiting(line):
            share -= _line_amount(line)
        if share or line.exception_status == ExceptionStatus.open:
            items.append({
                "item": "line", "upload_id": line.upload_id, "line_no": line.line_no,
                "bank_txn_id": line.bank_txn_id, "contract_no": line.contract_no,
                "amount": fmt(line.amount) if line.amount is not None else line.amount_text,
                "outcome": line.outcome.value, "reason": line.reason.value if line.reason else "",
                "exception_status": line.exception_status.value if line.exception_status else "",
                "loan_event_id": line.loan_event_id or "", "share": fmt(share)})
    for leftover in by_line.values():
        for event in leftover:
            items.append({
                "item": "posting_without_line", "upload_id": "", "line_no": "",
                "bank_txn_id": event.external_ref or "", "contract_no": "",
                "amount": fmt(_event_amount(event)), "outcome": event.kind.value,
                "reason": f"source {event.source}", "exception_status": "",
                "loan_event_id": event.id, "share": fmt(-_event_amount(event))})
    bank_total = sum((_line_amount(x) for x in lines), ZERO)
    awaiting = sum((_line_amount(x) for x in waiting), ZERO)
    posted = sum((_event_amount(e) for e in events), ZERO) + awaiting
    open_lines = [x for x in lines if x.exception_status == ExceptionStatus.open]
    return {
        "bank_id": bank_id, "date": day.isoformat(), "lines": len(lines),
        "bank_total": fmt(bank_total), "posted": fmt(posted),
        "difference": fmt(bank_total - posted),
        "awaiting_application": fmt(awaiting),
        "unapplied_held": fmt(_unapplied(session, [e for e in events
                                                   if e.kind == EventKind.payment])),
        "exceptions_open": {"count": len(open_lines),
                            "amount": fmt(sum((_line_amount(x) for x in open_lines), ZERO))},
        "items": items,
    }


def _unapplied(session: Session, payments: list[LoanEvent]) -> Decimal:
    """What the ledger holds as unapplied from these payments (standing entries)."""
    if not payments:
        return ZERO
    total = session.scalar(
        sa.select(money_total(JournalLeg.amount))
        .join(JournalEntry, JournalEntry.id == JournalLeg.entry_id)
        .join(Account, Account.id == JournalLeg.account_id)
        .where(Account.code == "unapplied_funds",
               JournalEntry.loan_id.in_({p.loan_id for p in payments}),
               JournalEntry.slot.in_([f"pay:{p.id}" for p in payments])))
    return -total


def reconciliation_csv_rows(report: dict[str, Any]) -> list[list[Any]]:
    """The report as CSV: a key/value summary, a blank row, then the items."""
    rows: list[list[Any]] = [["bank_id", report["bank_id"]], ["date", report["date"]]]
    for key in ("lines", "bank_total", "posted", "difference", "awaiting_application",
                "unapplied_held"):
        rows.append([key, report[key]])
    rows.append(["exceptions_open_count", report["exceptions_open"]["count"]])
    rows.append(["exceptions_open_amount", report["exceptions_open"]["amount"]])
    rows.append([])
    rows.append(list(ITEM_COLUMNS))
    rows += [[item[c] for c in ITEM_COLUMNS] for item in report["items"]]
    return rows
