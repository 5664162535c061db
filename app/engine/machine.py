"""The servicing rules (servicing-rules.md), once, for every loan.

``LoanMachine`` walks a loan from its first event to a date.  It is exact:
interest is accumulated as ``balance × annual rate × days`` (yuan·days, the
"×360" unit), which is a finite decimal, and divided by 360 and rounded
half-up only where §9 says (bills, claims, allocations, reports).  Because
the sum is exact, a stretch of identical days is accrued in one step
(``balance × rate × days``) with the same result as day by day: the machine
jumps from one date where something happens to the next, so a ten-year loan
costs a few hundred steps, and a nightly job can advance a loan by one day
with the same code.

A day ``d`` is processed in the order the rules fix:
1. start of day: subsidy claim (settlement date), bill (due date, or the
   settlement date while no plan is in force);
2. the day's events, in the order given (a payment is allocated after the
   day's bills; a disbursement counts for the day);
3. end of day: normal interest on principal not overdue, split between
   finance and borrower by the policy; penalty on overdue principal and
   compound interest on overdue interest; the arrears run.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from functools import lru_cache

import numpy_financial as npf

from app.engine import dates
from app.engine.events import (
    Contact,
    ContinuedStudy,
    Disbursement,
    Event,
    EventError,
    Graduation,
    Payment,
    Plan,
    RateChange,
)
from app.money import EXACT, ZERO, round_fen
from app.policy import PolicyVersion

DAY = dt.timedelta(days=1)
YEAR_BASIS = 360  # actual/360, 银发〔2005〕129号


def _fen(acc_360: Decimal) -> Decimal:
    """An exact ×360 accumulator as rounded yuan, never negative."""
    value = round_fen(EXACT.divide(acc_360, YEAR_BASIS))
    return value if value > 0 else ZERO


def penalty_rate(rate: Decimal, markup: Decimal) -> Decimal:
    """§6's penalty rate: the loan's rate raised by the markup (exact in ``EXACT``)."""
    return EXACT.multiply(rate, EXACT.add(1, markup))


@dataclass(frozen=True)
class PlanDates:
    """A plan's due dates and instalment dates (ascending), asked every step of
    every loan: answered by hashing and bisection."""

    due_dates: tuple[dt.date, ...]
    instalment_dates: tuple[dt.date, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_due", frozenset(self.due_dates))
        object.__setattr__(self, "_instalment", frozenset(self.instalment_dates))

    def is_due(self, day: dt.date) -> bool:
        return day in self._due

    def is_instalment(self, day: dt.date) -> bool:
        return day in self._instalment

    def next_due(self, day: dt.date) -> dt.date | None:
        """The first due date after ``day``, if any."""
        i = bisect_right(self.due_dates, day)
        return self.due_dates[i] if i < len(self.due_dates) else None


@lru_cache(maxsize=4096)
def plan_dates(frequency: str, due_day: int, confirmed_on: dt.date, graduation: dt.date,
                grace_months: int, term_months: int) -> PlanDates:
    """Due dates and instalment dates of a plan (a portfolio shares few: cached)."""
    maturity = dates.add_months(graduation, term_months)
    due_dates = tuple(dates.frequency_dates(frequency, due_day, confirmed_on, maturity))
    grace_end = dates.add_months(graduation, grace_months)
    return PlanDates(due_dates, tuple(d for d in due_dates if d >= grace_end))


@dataclass(frozen=True)
class Terms:
    policy: PolicyVersion
    annual_rate: Decimal
    penalty_markup: Decimal
    settlement: str  # subsidy settlement frequency: monthly | quarterly | annual


@dataclass
class Bill:
    due: dt.date
    interest: Decimal
    principal: Decimal
    interest_paid: Decimal = ZERO
    principal_paid: Decimal = ZERO

    @property
    def interest_unpaid(self) -> Decimal:
        return self.interest - self.interest_paid

    @property
    def principal_unpaid(self) -> Decimal:
        return self.principal - self.principal_paid

    @property
    def unpaid(self) -> Decimal:
        return self.interest_unpaid + self.principal_unpaid


@dataclass(frozen=True)
class Claim:
    """Finance's share of interest claimed on a settlement date (贴息)."""

    date: dt.date
    amount: Decimal


@dataclass(frozen=True)
class Allocation:
    """How one payment was applied (servicing-rules.md §7)."""

    date: dt.date
    amount: Decimal
    to_penalty: Decimal
    to_interest: Decimal
    to_principal: Decimal
    to_accrued_interest: Decimal
    to_prepayment: Decimal
    to_unapplied: Decimal
    event_index: int


@dataclass
class ActivePlan:
    event: Plan
    confirmed_on: dt.date
    dates: PlanDates

    @property
    def due_dates(self) -> tuple[dt.date, ...]:
        return self.dates.due_dates

    @property
    def instalment_dates(self) -> tuple[dt.date, ...]:
        return self.dates.instalment_dates

    @property
    def last_instalment(self) -> dt.date:
        return self.instalment_dates[-1]


@dataclass
class LoanMachine:
    terms: Terms
    rate: Decimal = ZERO
    day: dt.date | None = None  # the last day whose end has been processed
    disbursed: Decimal = ZERO
    principal_unbilled: Decimal = ZERO
    bills: list[Bill] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    payments: list[Allocation] = field(default_factory=list)
    disbursements: list[tuple[int, dt.date, Decimal]] = field(default_factory=list)
    contacts: list[dt.date] = field(default_factory=list)
    # exact accumulators in yuan·days (divide by 360 for yuan)
    acc_borrower: Decimal = ZERO
    acc_finance: Decimal = ZERO
    acc_penalty: Decimal = ZERO
    in_school: bool = True
    graduation_date: dt.date | None = None
    plan: ActivePlan | None = None
    pending_plan: Plan | None = None
    adjustments_used: int = 0
    instalment: Decimal | None = None
    run_start: dt.date | None = None
    first_disbursement: dt.date | None = None
    policy: PolicyVersion = field(init=False)

    def __post_init__(self) -> None:
        self.rate = self.terms.annual_rate
        self.policy = self.terms.policy

    # ------------------------------------------------------------------ driving
    def run(self, events: list[Event], through: dt.date) -> LoanMachine:
        """Process every day from the first event through ``through`` inclusive.

        Resumable: a machine that has already run through some day takes
        only the events dated after it, so a nightly job can advance a loan
        one business date at a time with the same code as a simulation.
        """
        done = self.day or dt.date.min
        pending = sorted((e for e in events if done < e.date <= through), key=lambda e: e.date)
        if self.day is None:
            if not pending:
                return self
            day = pending[0].date
        else:
            day = self.day + DAY
        i = 0
        while day <= through:
            self.start_of_day(day)
            while i < len(pending) and pending[i].date == day:
                self.apply(pending[i])
                i += 1
            next_day = min(
                pending[i].date if i < len(pending) else dt.date.max,
                self._next_scheduled(day),
                through + DAY,
            )
            self.end_of_day(day, days=(next_day - day).days)
            day = next_day
        return self

    def _next_scheduled(self, day: dt.date) -> dt.date:
        """The next date after ``day`` whose start or whose balances differ."""
        if any(b.due == day for b in self.bills):
            return day + DAY  # today's bill becomes overdue tomorrow
        return self._next_calendar_date(day)

    def _next_calendar_date(self, day: dt.date) -> dt.date:
        """The next settlement or plan due date after ``day``."""
        candidates = [
            dates.next_frequency_date(
                self.terms.settlement, self.policy.calendar.due_day, day
            )
        ]
        if self.plan is not None and (due := self.plan.dates.next_due(day)) is not None:
            candidates.append(due)
        return min(candidates)

    def next_action(self) -> dt.date | None:
        """The first date after ``day`` on which running on changes more than the
        passing of days does: a claim or bill, a bill turning overdue, the
        arrears run turning into a reportable default.  ``None``: nothing
        happens until a new event (nothing disbursed, or nothing left to accrue).

        Days past due and arrears days grow by themselves and are not actions:
        they are the as-of date minus a date the state keeps.  The nightly job
        only touches a loan on this date (or when a new event makes it dirty).
        """
        if self.day is None:
            return None
        unpaid = [b for b in self.bills if b.unpaid > 0]
        if not (self.principal_unbilled or unpaid or self.acc_borrower or self.acc_finance):
            return None
        candidates = []
        finance_accrues = self.policy.finance_share(in_school=self.in_school) > 0
        if self.plan is None or self.acc_finance or finance_accrues:
            candidates.append(dates.next_frequency_date(
                self.terms.settlement, self.policy.calendar.due_day, self.day))
        if self.plan is not None and (due := self.plan.dates.next_due(self.day)) is not None:
            candidates.append(due)
        if any(b.due == self.day for b in unpaid):
            candidates.append(self.day + DAY)
        if self.run_start is not None:
            rules = self.policy.arrears
            flip = self.run_start + dt.timedelta(days=rules.default_arrears_days + 1)
            if self.contacts:
                flip = max(flip, max(self.contacts)
                           + dt.timedelta(days=rules.contact_window_days))
            if flip > self.day:
                candidates.append(flip)
        return min(candidates, default=None)

    # ------------------------------------------------------------ start of day
    def start_of_day(self, day: dt.date) -> None:
        due_day = self.policy.calendar.due_day
        settlement = dates.is_frequency_date(self.terms.settlement, due_day, day)
        if settlement:
            amount = _fen(self.acc_finance)
            self.acc_finance = ZERO
            if amount > 0:
                self.claims.append(Claim(day, amount))
        if self.plan is not None:
            if self.plan.dates.is_due(day):
                self._bill(day, with_principal=self.plan.dates.is_instalment(day))
        elif settlement:
            self._bill(day, with_principal=False)

    def _bill(self, day: dt.date, *, with_principal: bool) -> None:
        interest = _fen(self.acc_borrower)
        self.acc_borrower = ZERO
        principal = ZERO
        if with_principal:
            assert self.plan is not None and self.instalment is not None
            if day == self.plan.last_instalment:
                principal = self.principal_unbilled
            elif self.plan.event.method == "equal_installment":
                principal = min(max(self.instalment - interest, ZERO), self.principal_unbilled)
            else:
                principal = min(self.instalment, self.principal_unbilled)
            self.principal_unbilled -= principal
        if interest > 0 or principal > 0:
            self.bills.append(Bill(day, interest, principal))

    # -------------------------------------------------------------- end of day
    def end_of_day(self, day: dt.date, *, days: int = 1) -> None:
        """Accrue ``days`` identical days starting with ``day``; close ``day``.

        A bill due on ``day`` is not overdue until the next day, so that first
        day is accrued on its own; otherwise the stretch is one step (the sums
        are exact: one step of ``days`` adds what ``days`` steps of one add).
        """
        if days > 1 and any(b.due == day for b in self.bills):
            self._accrue(day, 1)
            self._accrue(day + DAY, days - 1)
        else:
            self._accrue(day, days)
        if any(b.unpaid > 0 for b in self.bills):
            if self.run_start is None:
                self.run_start = day
        else:
            self.run_start = None
        self.day = day + (days - 1) * DAY

    def _accrue(self, day: dt.date, days: int) -> None:
        due_today = overdue = ZERO
        for b in self.bills:  # one pass: not yet overdue (due today or later), overdue
            if b.due >= day:
                due_today += b.principal - b.principal_paid
            else:
                overdue += (b.principal - b.principal_paid) + (b.interest - b.interest_paid)
        with localcontext(EXACT):
            raw = (self.principal_unbilled + due_today) * self.rate * days
            finance = raw * self.policy.finance_share(in_school=self.in_school)
            self.acc_finance += finance
            self.acc_borrower += raw - finance
            if overdue:
                self.acc_penalty += overdue * self._penalty_rate() * days

    def _penalty_rate(self) -> Decimal:
        return penalty_rate(self.rate, self.terms.penalty_markup)

    def penalty_per_day(self, day: dt.date) -> Decimal:
        """What the end of ``day`` adds to ``acc_penalty`` (yuan·days): penalty on
        overdue principal and compound interest on overdue interest (bills due
        before ``day`` and unpaid), at the penalty rate (§6)."""
        overdue = sum((b.unpaid for b in self.bills if b.due < day), ZERO)
        with localcontext(EXACT):
            return overdue * self._penalty_rate()

    # ------------------------------------------------------------------ events
    def apply(self, event: Event) -> None:
        handler = {
            Disbursement: self._disburse,
            Graduation: self._graduate,
            ContinuedStudy: self._continue_study,
            Plan: self._set_plan,
            Payment: self._pay,
            Contact: self._contact,
            RateChange: self._change_rate,
        }[type(event)]
        handler(event)

    def _disburse(self, event: Disbursement) -> None:
        if not self.in_school:
            raise EventError(event, "disbursement after graduation: the loan is out of school")
        self.disbursed += event.amount
        self.disbursements.append((event.index, event.date, event.amount))
        self.principal_unbilled += event.amount
        self.first_disbursement = self.first_disbursement or event.date

    def _graduate(self, event: Graduation) -> None:
        if not self.in_school:
            raise EventError(event, "graduation while already out of school")
        self.in_school = False
        self.graduation_date = event.date
        self.adjustments_used = 0
        self.plan = None
        if self.pending_plan is not None:
            pending, self.pending_plan = self.pending_plan, None
            self._activate(pending, event.date)

    def _continue_study(self, event: ContinuedStudy) -> None:
        if self.in_school:
            raise EventError(event, "continued study while the borrower is in school")
        self.in_school = True
        self.plan = None
        self.instalment = None

    def _set_plan(self, event: Plan) -> None:
        self._check_plan_bounds(event)
        if self.in_school:
            self.pending_plan = event  # confirmed before graduation; in force from it
            return
        assert self.graduation_date is not None
        if self.plan is not None:
            rules = self.policy.plan
            if self.adjustments_used >= rules.max_adjustments:
                allowed = rules.max_adjustments
                raise EventError(
                    event,
                    f"{self.policy.code} allows {allowed} plan adjustment"
                    f"{'s' if allowed != 1 else ''}; this would be adjustment "
                    f"{self.adjustments_used + 1}",
                )
            since = (event.date - self.graduation_date).days
            if since > rules.adjustment_window_days:
                raise EventError(
                    event,
                    f"plan adjustment {since} days after graduation on "
                    f"{self.graduation_date.isoformat()}; allowed within "
                    f"{rules.adjustment_window_days} days",
                )
            self.adjustments_used += 1
        self._activate(event, event.date)

    def _check_plan_bounds(self, event: Plan) -> None:
        rules = self.policy.plan
        code = self.policy.code
        if event.frequency not in rules.frequencies:
            raise EventError(event, f"frequency {event.frequency!r} not allowed by {code}")
        if event.method not in rules.methods:
            raise EventError(event, f"method {event.method!r} not allowed by {code}")
        if not rules.grace_months_min <= event.grace_months <= rules.grace_months_max:
            raise EventError(
                event,
                f"grace_months {event.grace_months} outside {code}'s "
                f"{rules.grace_months_min}–{rules.grace_months_max}",
            )
        if event.term_months > rules.repayment_term_months_max:
            raise EventError(
                event,
                f"term_months {event.term_months} exceeds {code}'s "
                f"{rules.repayment_term_months_max} months after graduation",
            )
        if event.term_months <= event.grace_months:
            raise EventError(
                event,
                f"term_months {event.term_months} must exceed grace_months {event.grace_months}",
            )

    def _activate(self, event: Plan, confirmed_on: dt.date) -> None:
        assert self.graduation_date is not None
        rules = self.policy.plan
        maturity = dates.add_months(self.graduation_date, event.term_months)
        if rules.total_term_months_max is not None and self.first_disbursement is not None:
            latest = dates.add_months(self.first_disbursement, rules.total_term_months_max)
            if maturity > latest:
                raise EventError(
                    event,
                    f"plan ends {maturity.isoformat()}, after {self.policy.code}'s total term "
                    f"of {rules.total_term_months_max} months ({latest.isoformat()})",
                )
        plan = self.schedule(event, confirmed_on)
        if not plan.instalment_dates:
            grace_end = dates.add_months(self.graduation_date, event.grace_months)
            raise EventError(
                event,
                f"no {event.frequency} due date between grace end {grace_end.isoformat()} "
                f"and maturity {maturity.isoformat()}",
            )
        self.plan = plan
        self.instalment = None
        self._recompute_instalment(confirmed_on)

    def schedule(self, event: Plan, confirmed_on: dt.date) -> ActivePlan:
        """The plan's due and instalment dates (§4), counted from the graduation."""
        assert self.graduation_date is not None
        return ActivePlan(event, confirmed_on, plan_dates(
            event.frequency, self.policy.calendar.due_day, confirmed_on, self.graduation_date,
            event.grace_months, event.term_months))

    def _recompute_instalment(self, day: dt.date) -> None:
        """§5: n = instalment dates after ``day``, P = principal not yet billed."""
        if self.plan is None:
            return
        n = sum(1 for d in self.plan.instalment_dates if d > day)
        if n == 0:
            return
        principal = self.principal_unbilled
        with localcontext(EXACT):
            if self.plan.event.method == "equal_installment":
                months = dates.MONTHS_PER_PERIOD[self.plan.event.frequency]
                period_rate = self.rate * months / 12
                self.instalment = round_fen(-npf.pmt(period_rate, n, principal))
            else:
                self.instalment = round_fen(principal / n)

    def _pay(self, event: Payment) -> None:
        remaining = event.amount

        def take(available: Decimal) -> Decimal:
            nonlocal remaining
            taken = min(remaining, max(available, ZERO))
            remaining -= taken
            return taken

        to_penalty = take(_fen(self.acc_penalty))
        self.acc_penalty -= to_penalty * YEAR_BASIS
        to_interest = ZERO
        for bill in self.bills:
            taken = take(bill.interest_unpaid)
            bill.interest_paid += taken
            to_interest += taken
        to_principal = ZERO
        for bill in self.bills:
            taken = take(bill.principal_unpaid)
            bill.principal_paid += taken
            to_principal += taken
        to_accrued = take(_fen(self.acc_borrower))
        self.acc_borrower -= to_accrued * YEAR_BASIS
        to_prepayment = take(self.principal_unbilled)
        self.principal_unbilled -= to_prepayment
        if to_prepayment > 0:
            self._recompute_instalment(event.date)
        self.payments.append(
            Allocation(
                event.date, event.amount, to_penalty, to_interest, to_principal,
                to_accrued, to_prepayment, remaining, event.index,
            )
        )

    def _contact(self, event: Contact) -> None:
        self.contacts.append(event.date)

    def _change_rate(self, event: RateChange) -> None:
        self.rate = event.annual_rate
        self._recompute_instalment(event.date)
