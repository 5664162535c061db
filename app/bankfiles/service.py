"""Uploads, their reports, and resolving the exception queue."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import clock
from app.audit.service import record, snapshot
from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import get_visible, require_role
from app.bankfiles.application import apply_pending
from app.bankfiles.models import (
    BankLine,
    BankUpload,
    ExceptionStatus,
    FileFormat,
    Outcome,
    Reason,
)
from app.bankfiles.parsers import CSV_COLUMNS, normalise_encoding
from app.bankfiles.storage import Spooled, store_parts
from app.db import money_total
from app.errors import Conflict, Forbidden, InvalidInput
from app.money import ZERO, fmt
from app.reference.models import Bank
from app.servicing.models import EventKind, Loan, LoanEvent
from app.servicing.service import record_event


def create_upload(
    session: Session, principal: Principal, *, file: Spooled, format: FileFormat,
    filename: str = "", encoding: str | None = None, bank_id: int | None = None,
) -> tuple[BankUpload, bool]:
    """Store the file as received; (upload, True), or (the first upload of the same
    bytes from the same bank, False) — then nothing is stored and nothing posted."""
    require_role(principal, Role.bank_operator)
    if principal.role == Role.bank_operator:
        bank_id = principal.bank_id
    elif bank_id is None or session.get(Bank, bank_id) is None:
        raise InvalidInput("the bank the file comes from is needed", field="bank_id")
    if encoding and format not in CSV_COLUMNS:
        raise InvalidInput("an XML file declares its own encoding", field="encoding")
    try:
        declared = normalise_encoding(encoding)
    except LookupError:
        raise InvalidInput(f"unknown encoding {encoding!r}", field="encoding") from None
    first = session.scalar(
        sa.select(BankUpload).where(BankUpload.bank_id == bank_id,
                                    BankUpload.sha256 == file.sha256))
    if first is not None:
        return first, False
    upload = BankUpload(bank_id=bank_id, format=format, filename=filename[:255],
                        declared_encoding=declared, sha256=file.sha256, size_bytes=file.size,
                        uploaded_by=principal.user_name)
    session.add(upload)
    session.flush()
    store_parts(session, upload.id, file.file)
    record(session, principal, "bank_upload.create", upload, None, snapshot(upload))
    return upload, True


def upload_report(session: Session, upload: BankUpload) -> dict[str, Any]:
    """Lines read, posted, duplicates, exceptions by reason, amounts posted and held."""
    rows = session.execute(
        sa.select(BankLine.outcome, BankLine.reason, BankLine.type,
                  sa.func.count(), money_total(BankLine.amount))
        .where(BankLine.upload_id == upload.id)
        .group_by(BankLine.outcome, BankLine.reason, BankLine.type)
    ).all()
    counts: dict[str, int] = defaultdict(int)
    amounts: dict[str, Decimal] = defaultdict(lambda: ZERO)
    reasons: dict[str, dict[str, Any]] = {}
    for outcome, reason, type_, count, total in rows:
        key = "reversed" if outcome == Outcome.posted and type_ == "REVERSAL" else outcome.value
        counts[key] += count
        amounts[key] += total
        if reason is not None:
            entry = reasons.setdefault(reason.value, {"count": 0, "amount": ZERO})
            entry["count"] += count
            entry["amount"] += total
    return {
        "lines_read": sum(counts.values()),
        "posted": counts["posted"], "amount_posted": fmt(amounts["posted"]),
        "reversals_posted": counts["reversed"], "amount_reversed": fmt(amounts["reversed"]),
        "held": counts["held"], "amount_held": fmt(amounts["held"]),
        "duplicates": counts["duplicate"], "exceptions": counts["exception"],
        "ignored": counts["ignored"],
        "exceptions_by_reason": {k: {"count": v["count"], "amount": fmt(v["amount"])}
                                 for k, v in sorted(reasons.items())},
    }


LINE_COLUMNS = ("line_no", "bank_txn_id", "type", "contract_no", "amount", "value_date",
                "reverses", "outcome", "reason", "message", "loan_id", "loan_event_id",
                "exception_status")


def line_rows(session: Session, upload_id: int, *, page: int = 2000) -> Iterator[list[Any]]:
    """Per-line results in file order (keyset pages, so memory stays flat)."""
    last = 0
    while True:
        lines = session.scalars(
            sa.select(BankLine).where(BankLine.upload_id == upload_id, BankLine.line_no > last)
            .order_by(BankLine.line_no).limit(page)).all()
        if not lines:
            return
        for x in lines:
            yield [x.line_no, x.bank_txn_id, x.type, x.contract_no,
                   fmt(x.amount) if x.amount is not None else x.amount_text,
                   x.value_date.isoformat() if x.value_date else x.value_date_text, x.reverses,
                   x.outcome.value, x.reason.value if x.reason else "", x.message,
                   x.loan_id or "", x.loan_event_id or "",
                   x.exception_status.value if x.exception_status else ""]
        last = lines[-1].line_no
        session.expunge_all()


def resolve_exception(
    session: Session, principal: Principal, line: BankLine, *,
    action: Literal["assign", "return"], loan_id: int | None = None,
    amount: Decimal | None = None, value_date: dt.date | None = None, note: str = "",
) -> BankLine:
    """Assign an open exception to a loan (posted through the engine) or return
    the money to the bank.  A line held on a closed loan is taken off it first
    (its payment reversed).  Audited."""
    require_role(principal, Role.bank_operator)
    if principal.role == Role.bank_operator and principal.bank_id != line.bank_id:
        raise Forbidden("only the line's bank resolves it")
    if line.exception_status != ExceptionStatus.open:
        raise Conflict(f"line {line.id} is not an open exception", code="not_open")
    before = snapshot(line)
    if action == "assign":
        _assign(session, principal, line, loan_id, amount, value_date)
        line.exception_status = ExceptionStatus.assigned
    else:
        _release_held(session, principal, line)
        line.exception_status = ExceptionStatus.returned
    line.resolved_by, line.resolved_at = principal.user_name, clock.now_utc()
    line.resolution_note = note
    session.flush()
    record(session, principal, f"bank_exception.{action}", line, before, snapshot(line))
    return line


def _release_held(session: Session, principal: Principal, line: BankLine) -> None:
    """Reverse the payment a held line posted to a closed loan (recording it
    first if the nightly job has not yet)."""
    if line.outcome != Outcome.held:
        return
    if line.loan_event_id is None:
        apply_pending(session, lo=line.loan_id, hi=line.loan_id, through=line.value_date,
                      recorded_by=principal.user_name)
        session.refresh(line)
    payment = session.get(LoanEvent, line.loan_event_id)
    loan = session.get(Loan, line.loan_id)
    record_event(session, principal, loan, kind=EventKind.payment_reversal,
                 event_date=payment.event_date, amount=payment.amount,
                 reverses_event_id=payment.id, source=f"bankfile:{line.upload_id}",
                 external_ref=line.txn_key)


def _assign(session: Session, principal: Principal, line: BankLine, loan_id: int | None,
            amount: Decimal | None, value_date: dt.date | None) -> None:
    if line.type not in ("REPAY", "") or line.reason in (Reason.duplicate,
                                                         Reason.already_reversed):
        raise Conflict("only a repayment that was not posted can be assigned; return it",
                       code="not_assignable")
    if loan_id is None:
        raise InvalidInput("loan_id is needed to assign", field="loan_id")
    loan = get_visible(session, principal, Loan, loan_id, field="loan_id")
    if loan.bank_id != line.bank_id:
        raise InvalidInput(f"loan {loan_id} is not serviced by the line's bank", field="loan_id")
    amount = amount or line.amount
    if amount is None:
        raise InvalidInput("the line's amount is not valid: give amount", field="amount")
    value_date = value_date or line.value_date
    if value_date is None:
        raise InvalidInput("the line's value date is not valid: give value_date",
                           field="value_date")
    if line.outcome == Outcome.held and line.loan_id == loan.id:
        raise Conflict("the money is already held on that loan", code="not_assignable")
    _release_held(session, principal, line)
    event = record_event(session, principal, loan, kind=EventKind.payment,
                         event_date=value_date, amount=amount,
                         source=f"bankfile:{line.upload_id}", external_ref=line.txn_key)
    line.loan_id, line.loan_event_id = loan.id, event.id
