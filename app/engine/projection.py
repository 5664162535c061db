"""Looking ahead from a loan's state: the payoff quote and the schedule preview.

Both run the same machine forward on a copy, so a quote is exactly what the
allocation rules would take on that day.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from app.engine.events import Payment
from app.engine.machine import DAY, LoanMachine, _fen
from app.money import ZERO


@dataclass(frozen=True)
class PayoffQuote:
    """What a payment on ``date`` must be to close the loan (§7 steps 1–5)."""

    date: dt.date
    penalty: Decimal
    billed_interest: Decimal
    billed_principal: Decimal
    accrued_interest: Decimal
    principal_unbilled: Decimal

    @property
    def total(self) -> Decimal:
        return (self.penalty + self.billed_interest + self.billed_principal
                + self.accrued_interest + self.principal_unbilled)


@dataclass(frozen=True)
class ProjectedBill:
    date: dt.date
    interest: Decimal
    principal: Decimal


def payoff_quote(machine: LoanMachine, date: dt.date) -> PayoffQuote:
    """Quote for ``date``; ``machine`` must not have run past ``date − 1``.

    Prepayment is free (提前还款不得加收费用): the quote is principal plus the
    interest to that date, plus whatever is billed or overdue.
    """
    m = copy.deepcopy(machine)
    m.run([], date - DAY)
    m.start_of_day(date)
    return PayoffQuote(
        date=date,
        penalty=_fen(m.acc_penalty),
        billed_interest=sum((b.interest_unpaid for b in m.bills), ZERO),
        billed_principal=sum((b.principal_unpaid for b in m.bills), ZERO),
        accrued_interest=_fen(m.acc_borrower),
        principal_unbilled=m.principal_unbilled,
    )


def preview_schedule(machine: LoanMachine) -> list[ProjectedBill]:
    """The bills still to come if every bill is paid in full on its due date."""
    if machine.plan is None or machine.day is None:
        return []
    m = copy.deepcopy(machine)
    projected = []
    for due in (d for d in machine.plan.due_dates if d > machine.day):
        before = len(m.bills)
        m.run([], due - DAY)
        m.start_of_day(due)
        for bill in m.bills[before:]:
            projected.append(ProjectedBill(bill.due, bill.interest, bill.principal))
        owed = _fen(m.acc_penalty) + sum((b.unpaid for b in m.bills), ZERO)
        if owed > 0:
            m.apply(Payment(due, -1, owed))  # paid on the due date: on time
        m.end_of_day(due)
    return projected
