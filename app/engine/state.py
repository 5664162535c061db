"""A loan's figures as of a date, read off the machine (simulation.md "Result")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, localcontext

from app.engine.events import Event
from app.engine.machine import Allocation, Bill, Claim, LoanMachine, Terms, _fen
from app.money import EXACT, ZERO


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


@dataclass(frozen=True)
class Standing:
    """The figures servicing caches on the loan row: cheap to read off the
    machine (one pass over its bills), no history totals."""

    status: str
    principal_outstanding: Decimal
    overdue_principal: Decimal
    overdue_interest: Decimal
    days_past_due: int
    arrears_days: int
    arrears_run_start: dt.date | None
    default_reportable: bool
    penalty_accrued: Decimal
    accrued_interest: Decimal


def read_standing(machine: LoanMachine, as_of: dt.date) -> Standing:
    """The standing at the end of ``as_of``; the machine must have run through it."""
    unbilled_or_unpaid = machine.principal_unbilled
    overdue_principal = overdue_interest = unpaid = ZERO
    first_overdue = None
    for b in machine.bills:
        principal_unpaid = b.principal - b.principal_paid
        interest_unpaid = b.interest - b.interest_paid
        unbilled_or_unpaid += principal_unpaid
        unpaid += principal_unpaid + interest_unpaid
        if b.due < as_of and principal_unpaid + interest_unpaid > 0:
            overdue_principal += principal_unpaid
            overdue_interest += interest_unpaid
            if first_overdue is None:
                first_overdue = b.due
    principal_outstanding = unbilled_or_unpaid
    penalty_accrued = _fen(machine.acc_penalty)
    accrued = _fen(machine.acc_borrower)
    owes = principal_outstanding or unpaid or penalty_accrued or accrued
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
    return Standing(
        status=status,
        principal_outstanding=principal_outstanding,
        overdue_principal=overdue_principal,
        overdue_interest=overdue_interest,
        days_past_due=(as_of - first_overdue).days if first_overdue else 0,
        arrears_days=arrears_days,
        arrears_run_start=machine.run_start,
        default_reportable=arrears_days > rules.default_arrears_days and not recent_contact,
        penalty_accrued=penalty_accrued,
        accrued_interest=accrued,
    )


def read_state(machine: LoanMachine, as_of: dt.date) -> LoanState:
    """The figures at the end of ``as_of``; the machine must have run through it."""
    s = read_standing(machine, as_of)
    bills, payments = machine.bills, machine.payments
    return LoanState(
        as_of=as_of,
        status=s.status,
        principal_outstanding=s.principal_outstanding,
        installment=machine.instalment if machine.plan is not None else None,
        subsidy_claims=tuple(machine.claims),
        bills=tuple(bills),
        payments=tuple(payments),
        overdue=Overdue(
            principal=s.overdue_principal,
            interest=s.overdue_interest,
            penalty_accrued=s.penalty_accrued,
            days_past_due=s.days_past_due,
            arrears_days=s.arrears_days,
        ),
        accrued_interest=s.accrued_interest,
        default_reportable=s.default_reportable,
        arrears_run_start=s.arrears_run_start,
        totals=Totals(
            subsidy=_sum(c.amount for c in machine.claims),
            borrower_interest=_sum(b.interest for b in bills),
            penalty=_sum(p.to_penalty for p in payments),
            principal_repaid=_sum(p.to_principal + p.to_prepayment for p in payments),
            unapplied=_sum(p.to_unapplied for p in payments),
        ),
    )


def penalty_after(acc_penalty: Decimal, per_day: Decimal, days: int) -> Decimal:
    """The penalty accrued as ``read_state`` reports it, ``days`` days after a
    machine's day on which ``acc_penalty`` and ``per_day``
    (``LoanMachine.penalty_per_day`` of the next day) were read, when nothing
    happens in between (no event, no action date: ``LoanMachine.next_action``):
    the exact accumulator goes on by ``per_day`` a day, as the machine would."""
    with localcontext(EXACT):
        return _fen(acc_penalty + per_day * days)


def simulate(terms: Terms, events: list[Event], as_of: dt.date) -> LoanState:
    """Run a loan's events through ``as_of`` and read its figures."""
    return read_state(LoanMachine(terms).run(events, as_of), as_of)
