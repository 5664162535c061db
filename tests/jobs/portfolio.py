"""A small, varied portfolio for job tests, and the check against ``loans simulate``.

Each loan has a story: disbursements, a plan and graduation, payments on
time, late, partial or never, a prepayment, a payment the bank reports days
late (recorded unserviced, as a bank file does), a reversal, a borrower's
contact, a rate change.  ``record_until`` records the events a business date
brings; ``assert_matches_simulation`` compares what the database holds for
each loan (ledger entries by slot and the figures cached on the loan) with
``run_scenario`` (the code of ``loans simulate``) over the same events.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.engine.dates import add_months, frequency_dates
from app.engine.scenario import run_scenario
from app.ledger.models import Account, JournalEntry, JournalLeg
from app.money import fmt
from app.servicing.models import EventKind, Loan, LoanEvent
from app.servicing.receipts import CLEARING
from app.servicing.service import record_event
from tests import factories

D = Decimal
OPERATOR = Principal.operator("test")


@dataclass
class Planned:
    """An event to record on ``recorded_on`` (its own date, or later for a late report)."""

    date: dt.date
    kind: EventKind
    amount: Decimal | None = None
    data: dict[str, Any] = field(default_factory=dict)
    recorded_on: dt.date | None = None
    service: bool = True
    reverses: Planned | None = None  # the planned payment it reverses


@dataclass
class Story:
    loan_id: int
    planned: list[Planned]
    recorded: dict[int, int] = field(default_factory=dict)  # planned index -> event id


def _plan(grace: int, term: int, frequency: str, method: str) -> dict[str, Any]:
    return {"grace_months": grace, "term_months": term, "frequency": frequency,
            "method": method}


def make_story(rng: random.Random, start: dt.date, end: dt.date) -> list[Planned]:
    """One loan's events; everything before ``start`` is history, the rest happens
    during the nightly runs from ``start`` to ``end``."""
    grad = rng.choice([add_months(start, -18), add_months(start, -6), add_months(start, 5)])
    grad = grad.replace(day=30 if grad.month != 2 else 28)
    first = add_months(grad, -22).replace(day=10)
    amount = D(rng.choice(["6000.00", "8000.00", "4500.00"]))
    events = [Planned(first, EventKind.disbursement, amount),
              Planned(add_months(first, 12), EventKind.disbursement, amount)]
    frequency = rng.choice(["monthly", "monthly", "quarterly", "annual"])
    plan = _plan(rng.choice([12, 24]), rng.choice([48, 72]), frequency,
                 rng.choice(["equal_installment", "equal_principal"]))
    events += [Planned(grad, EventKind.plan, data=plan), Planned(grad, EventKind.graduation)]
    behaviour = rng.choice(["on_time", "late", "never", "partial", "prepay", "reported_late"])
    pays = []
    for due in frequency_dates(frequency, 20, grad, end):
        lateness = {"on_time": 0, "late": rng.randint(1, 20)}.get(behaviour, rng.randint(0, 3))
        day = due + dt.timedelta(days=lateness)
        if behaviour == "never" or day > end:
            continue
        share = D("0.6") if behaviour == "partial" else D("1")
        pays.append(Planned(day, EventKind.payment, (amount * 2 / 60 * share).quantize(D("0.01"))))
    if behaviour == "prepay" and start + dt.timedelta(days=40) <= end:
        pays.append(Planned(start + dt.timedelta(days=40), EventKind.payment, D("1500.00")))
    if behaviour == "reported_late":
        for p in pays[::2]:
            p.recorded_on, p.service = p.date + dt.timedelta(days=rng.randint(1, 9)), False
    if len(pays) > 3 and rng.random() < 0.5:  # the bank reverses one payment (冲正)
        target = pays[2]
        pays.append(Planned((target.recorded_on or target.date) + dt.timedelta(days=2),
                            EventKind.payment_reversal, target.amount,
                            service=rng.random() < 0.5, reverses=target))
    if behaviour == "never" and rng.random() < 0.5:
        pays.append(Planned(start + dt.timedelta(days=rng.randint(0, 200)), EventKind.contact,
                            data={"channel": "phone", "initiated_by": "borrower", "note": ""}))
    if rng.random() < 0.3:
        pays.append(Planned(start + dt.timedelta(days=rng.randint(0, 300)),
                            EventKind.rate_change, data={"annual_rate": "0.0435"}))
    return sorted(events + pays, key=lambda e: (e.recorded_on or e.date, e.date))


def build(session: Session, n: int, *, start: dt.date, end: dt.date, seed: int = 7) -> list[Story]:
    """``n`` loans with their stories; nothing recorded yet."""
    from app import clock

    rng = random.Random(seed)
    agreement = factories.make_agreement(session)
    stories = []
    today = clock.today()
    clock.set_today(start)
    try:
        for i in range(n):
            policy = "NSL-1999" if i % 7 == 3 else "NSL-2004"
            planned = make_story(rng, start, end)
            if policy == "NSL-1999":
                for p in planned:
                    if p.kind == EventKind.plan:
                        p.data |= {"grace_months": 0, "term_months": 48}
            loan = factories.make_loan(
                session, agreement, policy_code=policy,
                subsidy_settlement=rng.choice(["quarterly", "monthly", "annual"]))
            stories.append(Story(loan.id, planned))
    finally:
        clock.set_today(today)
    session.flush()
    return stories


def record_until(session: Session, stories: list[Story], day: dt.date, *,
                 service: bool | None = None) -> int:
    """Record every planned event due to be recorded on or before ``day``; returns how
    many.  ``service=False`` leaves every loan dirty for the nightly job (a bank file)."""
    from app import clock

    count = 0
    for story in stories:
        loan = session.get_one(Loan, story.loan_id)
        for i, p in enumerate(story.planned):
            if i in story.recorded or (p.recorded_on or p.date) > day:
                continue
            reverses = None
            if p.reverses is not None:
                target = next(j for j, q in enumerate(story.planned) if q is p.reverses)
                reverses = story.recorded[target]
            clock.set_today(day)
            event = record_event(session, OPERATOR, loan, kind=p.kind, event_date=p.date,
                                 amount=p.amount, data=dict(p.data), reverses_event_id=reverses,
                                 service=p.service if service is None else service)
            story.recorded[i] = event.id
            count += 1
    session.flush()
    return count


# -- the check against the simulation ------------------------------------------------


def scenario_of(loan: Loan, rows: list[LoanEvent], as_of: dt.date) -> dict[str, Any]:
    """The loan's recorded events as a ``loans simulate`` scenario (simulation.md)."""
    reversed_ids = {r.reverses_event_id for r in rows if r.reverses_event_id}
    events = []
    for r in rows:
        e: dict[str, Any] = {"date": r.event_date.isoformat(), "type": r.kind.value}
        match r.kind:
            case EventKind.disbursement | EventKind.payment:
                if r.id in reversed_ids:
                    continue
                e["amount"] = fmt(r.amount)
            case EventKind.plan:
                e |= r.data
            case EventKind.rate_change:
                e["annual_rate"] = r.data["annual_rate"]
            case EventKind.contact if r.data.get("initiated_by") != "borrower":
                continue
            case EventKind.payment_reversal:
                continue
        events.append(e)
    return {"policy": loan.policy_code, "annual_rate": str(loan.annual_rate),
            "penalty_markup": str(loan.penalty_markup),
            "subsidy_settlement": loan.subsidy_settlement, "events": events,
            "as_of": as_of.isoformat()}


def ledger_of(session: Session, loan_id: int) -> dict[str, dict[str, Decimal]]:
    """The loan's standing (not reversed) entries of the engine's slots: slot ->
    debited account -> amount (its payments' receipts have no slot)."""
    entries = session.execute(
        sa.select(JournalEntry.id, JournalEntry.slot, JournalEntry.reverses_entry_id)
        .where(JournalEntry.loan_id == loan_id, JournalEntry.slot.is_not(None))
    ).all()
    reversed_ids = {e.reverses_entry_id for e in entries if e.reverses_entry_id}
    standing = {e.id: e.slot for e in entries
                if e.reverses_entry_id is None and e.id not in reversed_ids}
    assert len(set(standing.values())) == len(standing), "two standing entries for one slot"
    out: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for entry_id, code, amount in session.execute(
        sa.select(JournalLeg.entry_id, Account.code, JournalLeg.amount)
        .join(Account, Account.id == JournalLeg.account_id)
        .where(JournalLeg.entry_id.in_(standing), JournalLeg.amount > 0)
    ):
        out[standing[entry_id]][code] += amount
    return {slot: dict(legs) for slot, legs in out.items()}


def _expected_ledger(result: dict[str, Any], rows: list[LoanEvent]) -> dict[str, dict]:
    """Slot -> debited account -> amount, as the simulation's decisions book them."""
    out: dict[str, dict[str, Decimal]] = {}
    for b in result["bills"]:
        legs = {"interest_billed": D(b["interest"]), "principal_billed": D(b["principal"])}
        out[f"bill:{b['date']}"] = {k: v for k, v in legs.items() if v}
    for c in result["subsidy_claims"]:
        out[f"claim:{c['date']}"] = {"subsidy_receivable": D(c["amount"])}
    reversed_ids = {r.reverses_event_id for r in rows if r.reverses_event_id}
    payment_ids = [r.id for r in rows if r.kind == EventKind.payment and r.id not in reversed_ids]
    for event_id, p in zip(payment_ids, result["payments"], strict=True):
        out[f"pay:{event_id}"] = {CLEARING: D(p["amount"])}  # where its receipt put it
    for r in rows:
        if r.kind == EventKind.disbursement:
            out[f"disb:{r.id}"] = {"principal_unbilled": r.amount}
    return out


def assert_matches_simulation(session: Session, loan_ids: list[int], as_of: dt.date) -> int:
    """Each loan's ledger and cached figures equal ``loans simulate`` as of ``as_of``."""
    session.expire_all()
    checked = 0
    for loan_id in loan_ids:
        loan = session.get_one(Loan, loan_id)
        rows = list(session.scalars(sa.select(LoanEvent).where(LoanEvent.loan_id == loan_id)
                                    .order_by(LoanEvent.event_date, LoanEvent.id)))
        if not rows:
            continue
        result = run_scenario(scenario_of(loan, rows, as_of))
        label = f"loan {loan_id}"
        assert ledger_of(session, loan_id) == _expected_ledger(result, rows), label
        o = result["overdue"]
        assert loan.status == result["status"], label
        assert fmt(loan.principal_outstanding) == result["principal_outstanding"], label
        assert fmt(loan.overdue_principal) == o["principal"], label
        assert fmt(loan.overdue_interest) == o["interest"], label
        assert loan.default_reportable == result["default_reportable"], label
        grown = (as_of - loan.serviced_through).days if loan.days_past_due else 0
        assert loan.days_past_due + grown == o["days_past_due"], label
        run_days = (as_of - loan.arrears_run_start).days if loan.arrears_run_start else 0
        assert run_days == o["arrears_days"], label
        checked += 1
    return checked
