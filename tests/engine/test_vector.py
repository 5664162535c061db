"""The due-date step over arrays (``app.engine.vector``) decides what the
machine decides: on every nightly step that it takes, of the scenarios' loans
and of generated borrowers who mostly pay on time, the same bill and claim,
the same cached figures, the same saved machine."""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
from collections import defaultdict
from decimal import Decimal

import orjson
import pytest

from app.engine import snapshot, vector
from app.engine.events import Disbursement, EventError, Graduation, Payment, Plan
from app.engine.machine import Bill, Claim, LoanMachine, Terms
from app.engine.scenario import parse_scenario
from app.policy import get_policy
from app.servicing.service import cached_figures
from tests.engine.test_snapshot import SCENARIOS


def _nightly_steps(terms: Terms, events: list, as_of: dt.date):
    """(saved machine, next action date) at each date the loan's life stops at
    (its action dates and its events' dates): the step the nightly job of the
    action date takes when no event has come in by then."""
    machine = LoanMachine(terms).run(events, min(e.date for e in events))
    while machine.day is not None:
        action = machine.next_action()
        upcoming = min((e.date for e in events if e.date > machine.day), default=None)
        through = min((d for d in (action, upcoming) if d is not None), default=None)
        if through is None or through > as_of:
            return
        saved = snapshot.dump(machine)
        if action is not None:
            yield saved, action
        machine = snapshot.load(terms, saved).run(events, through)


RATES = ("0.0435", "0.049", "0.0345", "0.0285", "0.0465", "0.0615")


def _borrower(rng: random.Random) -> tuple[Terms, list]:
    """A generated loan: one to four yearly disbursements, graduation, a plan."""
    policy = get_policy(rng.choice(("NSL-1999", "NSL-2004", "NSL-2015", "NSL-2020")))
    terms = Terms(policy, Decimal(rng.choice(RATES)), policy.arrears.penalty_markup,
                  rng.choice(("monthly", "quarterly", "annual")))
    start, years = rng.randint(2016, 2021), rng.randint(1, 4)
    events: list = [Disbursement(dt.date(start + n, 9, 1), n, Decimal(rng.randint(100000, 1600000))
                                 / 100) for n in range(years)]
    graduated = dt.date(start + years, 6, 30)
    rules = policy.plan
    grace = rng.randint(rules.grace_months_min, min(rules.grace_months_max, 24))
    term = rng.randint(grace + 12, min(rules.repayment_term_months_max, grace + 72))
    events += [Graduation(graduated, years),
               Plan(graduated + dt.timedelta(days=rng.randint(1, 60)), years + 1, grace, term,
                    rng.choice(rules.frequencies), rng.choice(rules.methods))]
    return terms, events


def _punctual_steps(terms: Terms, events: list, rng: random.Random):
    """As ``_nightly_steps`` for a borrower who pays each bill on its due date, now
    and then late, or more than the bill (a prepayment), or not at all."""
    machine = LoanMachine(terms).run(events, events[-1].date)
    late: list[Payment] = []
    while (action := machine.next_action()) is not None and machine.day.year < 2045:
        saved = snapshot.dump(machine)
        yield saved, action
        through = min([action, *(p.date for p in late)])
        paying = [p for p in late if p.date == through]
        late = [p for p in late if p.date != through]
        bills = _machine_step(terms, saved, through)[1]
        if bills and (luck := rng.random()) < 0.97:
            owed = bills[0].unpaid
            if luck < 0.05:
                late.append(Payment(through + dt.timedelta(days=rng.randint(1, 40)), 99, owed * 2))
            else:
                extra = Decimal(rng.randint(1, 50000)) if luck < 0.1 else 0
                paying.append(Payment(through, 99, owed + extra))
        machine = snapshot.load(terms, saved).run(paying, through)


def _machine_step(terms: Terms, saved: str, through: dt.date) -> tuple:
    machine = snapshot.load(terms, saved)
    bills, claims = len(machine.bills), len(machine.claims)
    machine.run([], through)
    return machine, machine.bills[bills:], machine.claims[claims:]


@functools.cache
def _by_date() -> dict[dt.date, list[tuple[Terms, str]]]:
    """The steps to check, by date (built once: every test reads them)."""
    steps: dict[dt.date, list[tuple[Terms, str]]] = defaultdict(list)
    for path in SCENARIOS:
        terms, events, as_of = parse_scenario(json.loads(path.read_text()))
        for saved, through in _nightly_steps(terms, events, as_of):
            steps[through].append((terms, saved))
    rng = random.Random(2027)
    for _ in range(120):
        terms, events = _borrower(rng)
        try:
            for saved, through in _punctual_steps(terms, events, rng):
                steps[through].append((terms, saved))
        except EventError:  # a plan the policy refuses: no life to step through
            continue
    return steps


def test_every_step_taken_is_the_machines() -> None:
    taken = declined = 0
    for through, loans in _by_date().items():
        # All the scenarios' loans due that day in one call, as a chunk's are.
        for (terms, saved), got in zip(loans, vector.step(loans, through), strict=True):
            if got is None:
                declined += 1
                continue
            taken += 1
            machine, bills, claims = _machine_step(terms, saved, through)
            assert bills == [Bill(through, got.interest, got.principal)], through
            assert claims == ([Claim(through, got.claim)] if got.claim else []), through
            assert got.figures == cached_figures(machine, through), through
            resumed = snapshot.load(terms, got.machine)
            assert resumed == snapshot.load(terms, snapshot.dump(machine)), through
    # The scenarios hold plain due dates and others (overdue days, defaults, events).
    assert taken > 100 and declined > 100, (taken, declined)


def _plain_step() -> tuple[Terms, str, dt.date]:
    for through, loans in sorted(_by_date().items()):
        for (terms, saved), got in zip(loans, vector.step(loans, through), strict=True):
            if got is not None and got.claim is None and got.principal > 0:
                return terms, saved, through
    raise AssertionError("no plain step in the scenarios")


@pytest.mark.parametrize(("field", "value"), [
    ("rate", "0.0435000001"),  # more places than the units hold
    ("pu", "9999999999999999.99"),  # products beyond int64
    ("run", "2020-01-01"),  # an arrears run
])
def test_what_the_units_cannot_hold_is_left_to_the_machine(field: str, value: str) -> None:
    terms, saved, through = _plain_step()
    raw = orjson.loads(saved)
    raw[field] = value
    changed = orjson.dumps(raw).decode()
    assert vector.step([(terms, saved), (terms, changed)], through)[1] is None
    machine, bills, _ = _machine_step(terms, changed, through)  # the machine still runs it
    assert bills and machine.day == through


def test_an_unpaid_bill_is_left_to_the_machine() -> None:
    terms, saved, through = _plain_step()
    raw = orjson.loads(saved)
    raw["bills"] = [[raw["day"], "10.00", "0", "0", "0"]]
    assert vector.step([(terms, orjson.dumps(raw).decode())], through) == [None]


def test_a_date_before_the_due_date_is_left_to_the_machine() -> None:
    terms, saved, through = _plain_step()
    assert vector.step([(terms, saved)], through - dt.timedelta(days=1)) == [None]
    assert vector.step([(terms, saved)], through + dt.timedelta(days=1)) == [None]
