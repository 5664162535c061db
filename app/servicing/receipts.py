"""Receipts: the cash side of a repayment, booked when the payment is recorded.

A repayment is booked in two steps, as banks do (cash posting, then payment
application):

* the **receipt**, when the payment is recorded: Dr ``bank_cash``, Cr
  ``repayments_clearing`` (a reversal: the opposite).  It is a bank fact,
  posted outside the engine's slots, so servicing's slot sync never touches
  it (its entry has no slot);
* the **application**, when the loan is serviced: the engine's ``pay:``
  entry (``app.servicing.postings``) debits ``repayments_clearing`` and
  credits what the payment paid.

A payment recorded through the API is serviced at once, so both steps land
in the same transaction; a bank file's lines are receipted when the file is
processed and applied by the next nightly run.  Receipt legs carry no loan:
a receipt is cash the bank holds (a file's chunk books one entry per value
date for all its lines); which loan it is for is the payment's (its event,
its bank line).  So ``repayments_clearing`` as a whole holds exactly the
receipts not yet applied, and a loan's own clearing legs are its
applications.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from app.ledger.service import Leg, NewEntry
from app.money import ZERO
from app.servicing.models import EventKind, LoanEvent

CASH = "bank_cash"
CLEARING = "repayments_clearing"


def receipt_entry(key: str, value_date: dt.date, *, received: Decimal = ZERO,
                  returned: Decimal = ZERO, loan_id: int | None = None,
                  memo: str = "") -> NewEntry | None:
    """The receipt of ``received`` (payments) less ``returned`` (reversals), as
    one entry; None when both are zero."""
    legs = []
    if received:
        legs += [Leg(CASH, received), Leg(CLEARING, -received)]
    if returned:
        legs += [Leg(CLEARING, returned), Leg(CASH, -returned)]
    if not legs:
        return None
    kind = "receipt" if received else "receipt_reversal"
    return NewEntry(key=key, kind=kind, value_date=value_date, legs=tuple(legs),
                    loan_id=loan_id, memo=memo[:200])


def event_receipt(event: LoanEvent) -> NewEntry:
    """The receipt of one recorded payment (or reversal) event."""
    reversal = event.kind == EventKind.payment_reversal
    entry = receipt_entry(f"receipt:{event.id}", event.event_date, loan_id=event.loan_id,
                          received=ZERO if reversal else event.amount,
                          returned=event.amount if reversal else ZERO,
                          memo=f"{event.kind.value} event {event.id}")
    assert entry is not None  # payments are positive
    return entry
