"""Bringing many loans in at once: a bank's existing book, or a synthetic portfolio.

``import_loans`` writes borrowers (found by ID number or created), loans and
their recorded events in bulk — no per-loan ORM round trips, no engine run —
and leaves each loan dirty from its first event.  The nightly job then
services them all in bulk (``app.servicing.batch``: a loan never serviced
starts from an empty machine), exactly as if every event had been recorded
one by one.  Imported payments are receipted per batch and value date (one
entry each, ``app.servicing.receipts``); servicing applies them.  One audit
record per batch names its loans.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.audit.service import record
from app.auth.principal import Principal
from app.clock import now_utc
from app.db import copy_rows
from app.ledger.service import post
from app.money import ZERO
from app.privacy.types import lookup_hash_of
from app.servicing.models import Borrower, EventKind, Loan, LoanEvent
from app.servicing.receipts import receipt_entry


@dataclass(frozen=True)
class ImportedEvent:
    kind: EventKind
    date: dt.date
    amount: Decimal | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportedLoan:
    contract_no: str
    borrower_name: str
    id_number: str
    bank_id: int
    university_id: int
    center_id: int
    agreement_id: int | None
    policy_code: str
    annual_rate: Decimal
    penalty_markup: Decimal
    subsidy_settlement: str
    signed_on: dt.date
    events: tuple[ImportedEvent, ...]


def _batches(items: Iterable[ImportedLoan], size: int) -> Iterator[list[ImportedLoan]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def import_loans(session: Session, principal: Principal, loans: Iterable[ImportedLoan], *,
                 batch_size: int = 5000, source: str = "import") -> int:
    """Write ``loans`` with their events; returns how many.  Flushes per batch."""
    total = 0
    for batch in _batches(loans, batch_size):
        borrower_ids = _borrowers(session, batch)
        loan_ids = dict(session.execute(
            sa.insert(Loan).returning(Loan.contract_no, Loan.id),
            [{"contract_no": x.contract_no, "bank_id": x.bank_id,
              "university_id": x.university_id, "center_id": x.center_id,
              "agreement_id": x.agreement_id, "borrower_id": borrower_ids[x.id_number],
              "policy_code": x.policy_code, "annual_rate": x.annual_rate,
              "penalty_markup": x.penalty_markup, "subsidy_settlement": x.subsidy_settlement,
              "signed_on": x.signed_on,
              "dirty_from": min((e.date for e in x.events), default=None)}
             for x in batch],
        ).all())
        events = [(loan_ids[x.contract_no], e) for x in batch for e in x.events]
        _write_events(session, events, recorded_by=principal.user_name, source=source)
        _receipts(session, events, first=loan_ids[batch[0].contract_no],
                  last=loan_ids[batch[-1].contract_no], posted_by=principal.user_name)
        first = session.get_one(Loan, loan_ids[batch[0].contract_no])
        record(session, principal, "loan.import", first, before=None,
               after={"loans": len(batch), "first": batch[0].contract_no,
                      "last": batch[-1].contract_no})
        total += len(batch)
    session.flush()
    return total


def _borrowers(session: Session, batch: list[ImportedLoan]) -> dict[str, int]:
    """Borrower ids by ID number: the existing ones, the others created."""
    hashes = {x.id_number: lookup_hash_of(x.id_number) for x in batch}
    found = dict(session.execute(
        sa.select(Borrower.id_number_hash, Borrower.id)
        .where(Borrower.id_number_hash.in_(set(hashes.values())))
    ).all())
    new = {}
    for x in batch:
        if hashes[x.id_number] not in found:
            new[hashes[x.id_number]] = {"name": x.borrower_name, "id_number": x.id_number,
                                        "id_number_hash": hashes[x.id_number]}
    if new:
        found |= dict(session.execute(
            sa.insert(Borrower).returning(Borrower.id_number_hash, Borrower.id),
            list(new.values())).all())
    return {number: found[h] for number, h in hashes.items()}


def _receipts(session: Session, events: list[tuple[int, ImportedEvent]], *, first: int,
              last: int, posted_by: str) -> None:
    """One receipt entry per value date for the batch's payments and reversals."""
    by_date: dict[dt.date, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for _loan_id, e in events:
        if e.kind in (EventKind.payment, EventKind.payment_reversal):
            by_date[e.date][e.kind == EventKind.payment_reversal] += e.amount
    post(session, [entry for day, (received, returned) in sorted(by_date.items())
                   if (entry := receipt_entry(
                       f"import:loans {first}-{last}:{day.isoformat()}", day, received=received,
                       returned=returned, memo=f"imported payments of loans {first}-{last}"))],
         posted_by=posted_by)


def _write_events(session: Session, events: list[tuple[int, ImportedEvent]], *,
                  recorded_by: str, source: str) -> None:
    now = now_utc()
    copy_rows(session, LoanEvent.__table__, (
        "loan_id", "kind", "event_date", "amount", "data", "source", "recorded_by",
        "created_at"), [(loan_id, e.kind, e.date, e.amount, e.data, source, recorded_by, now)
                        for loan_id, e in events])
