"""A loan's figures as of a date, read off the machine (simulation.md "Result")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from app.engine.events import Event
from app.engine.machine import Allocation, Bill, Claim, LoanMachine, Terms, _fen
from app.money import ZERO


@dataclass(frozen=True)
class Overdue:
    principal: Decimal
    interest: Decimal
    penalty_accrued: Decimal
    days_past_due: int
    arrears_days: int


@dataclass(frozen=True)
class Totals:
    subsidy: Decimal
    borrower_interest: Decimal
    penalty: Decimal
    principal_repaid: Decimal
    unapplied: Decimal


@dataclass(frozen=True)
class LoanState:
    as_of: dt.date
    status: str
    principal_outstanding: Decimal
    installment: Decimal | None
    subsidy_claims: tuple[Claim, ...]
    bills: tuple[Bill, ...]
    payments: tuple[Allocation, ...]
    overdue: Overdue
    accrued_interest: Decimal
    default_reportable: bool
    arrears_run_start: dt.date | None
    totals: Totals

    @property
    def delinquency_bucket(self) -> str | None:
        """Bucket by days past due: 1–30, 31–90, 91–180, 181–365, >365."""
        dpd = self.overdue.days_past_due
        for upper, name in ((0, None), (30, "1-30"), (90, "31-90"), (180, "91-180"),
                            (365, "181-365")):
            if dpd <= upper:
                return name
        return ">365"


def _sum(values) -> Decimal:
    return sum(values, ZERO)


def read_state(machine: LoanMachine, as_of: dt.date) -> LoanState:
    """The figures at the end of ``as_of``; the machine must have run through it."""
    bills = machine.bills
    overdue_bills = [b for b in bills if b.due < as_of and b.unpaid > 0]
    principal_outstanding = machine.principal_unbilled + _sum(b.principal_unpaid for b in bills)
    penalty_accrued = _fen(machine.acc_penalty)
    accrued = _fen(machine.acc_borrower)
    owes = principal_outstanding or _sum(b.unpaid for b in bills) or penalty_accrued or accrued
    arrears_days = (as_of - machine.run_start).days if machine.run_start else 0
    rules = machine.policy.arrears
    window_start = as_of - dt.timedelta(days=rules.contact_window_days - 1)
    recent_contact = any(window_start <= c <= as_of for c in machine.contacts)
    if machine.disbursed > 0 and not owes:
        status = "closed"
    elif machine.in_school:
        status = "in_school"
    elif machine.plan is not None:
        status = "repaying"
    else:
        status = "graduated"
    payments = machine.payments
    return LoanState(
        as_of=as_of,
        status=status,
        principal_outstanding=principal_outstanding,
        installment=machine.instalment if machine.plan is not None else None,
        subsidy_claims=tuple(machine.claims),
        bills=tuple(bills),
        payments=tuple(payments),
        overdue=Overdue(
            principal=_sum(b.principal_unpaid for b in overdue_bills),
            interest=_sum(b.interest_unpaid for b in overdue_bills),
            penalty_accrued=penalty_accrued,
            days_past_due=(as_of - overdue_bills[0].due).days if overdue_bills else 0,
            arrears_days=arrears_days,
        ),
        accrued_interest=accrued,
        default_reportable=arrears_days > rules.default_arrears_days and not recent_contact,
        arrears_run_start=machine.run_start,
        totals=Totals(
            subsidy=_sum(c.amount for c in machine.claims),
            borrower_interest=_sum(b.interest for b in bills),
            penalty=_sum(p.to_penalty for p in payments),
            principal_repaid=_sum(p.to_principal + p.to_prepayment for p in payments),
            unapplied=_sum(p.to_unapplied for p in payments),
        ),
    )


def simulate(terms: Terms, events: list[Event], as_of: dt.date) -> LoanState:
    """Run a loan's events through ``as_of`` and read its figures."""
    return read_state(LoanMachine(terms).run(events, as_of), as_of)
