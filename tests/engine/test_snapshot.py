"""A machine saved and resumed decides exactly what an uninterrupted run decides,
and ``next_action`` names the first date on which anything but the passing of
days changes (the nightly job relies on both)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from app.engine import snapshot
from app.engine.machine import DAY, LoanMachine
from app.engine.scenario import parse_scenario
from app.engine.state import read_state

HERE = Path(__file__).resolve().parents[1] / "scenarios"
EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "spec" / "examples"
SCENARIOS = sorted(p for p in [*HERE.glob("*.scenario.json"), *EXAMPLES.glob("*.scenario.json")]
                   if "refused" not in p.name)


def _discrete(machine: LoanMachine, as_of: dt.date) -> tuple:
    """What the nightly job caches, read off a machine at ``as_of``."""
    s = read_state(machine, as_of)
    unpaid = [(b.due, b.interest, b.principal, b.unpaid) for b in machine.bills if b.unpaid > 0]
    return (s.status, s.principal_outstanding, s.installment, s.overdue.principal,
            s.overdue.interest, s.default_reportable, s.arrears_run_start, unpaid)


def _figures(machine: LoanMachine, as_of: dt.date) -> tuple:
    """The cached figures and the accruing ones."""
    s = read_state(machine, as_of)
    return (*_discrete(machine, as_of), s.overdue.penalty_accrued, s.accrued_interest,
            machine.acc_borrower, machine.acc_finance, machine.acc_penalty)


def _cuts(first: dt.date, last: dt.date, step: int = 61) -> list[dt.date]:
    days = (last - first).days
    return [first + dt.timedelta(days=n) for n in range(0, days, step)]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name.split(".")[0])
def test_resumed_machine_decides_what_the_full_run_decides(path: Path) -> None:
    terms, events, as_of = parse_scenario(json.loads(path.read_text()))
    full = LoanMachine(terms).run(events, as_of)
    for cut in _cuts(min(e.date for e in events), as_of):
        head = LoanMachine(terms).run(events, cut)
        saved = snapshot.dump(head)
        # Compact standard JSON, as the saved machines written before orjson.
        assert saved == json.dumps(json.loads(saved), separators=(",", ":"))
        resumed = snapshot.load(terms, saved)
        assert snapshot.dump(resumed) == saved
        bills_before = len(resumed.bills)
        resumed.run(events, as_of)
        assert resumed.bills[bills_before:] == [b for b in full.bills if b.due > cut], cut
        assert resumed.claims == [c for c in full.claims if c.date > cut], cut
        assert resumed.payments == [p for p in full.payments if p.date > cut], cut
        assert _figures(resumed, as_of) == _figures(full, as_of), cut


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name.split(".")[0])
def test_nothing_changes_before_next_action(path: Path) -> None:
    terms, events, as_of = parse_scenario(json.loads(path.read_text()))
    for cut in _cuts(min(e.date for e in events), as_of, step=97):
        machine = LoanMachine(terms).run(events, cut)
        nxt = machine.next_action()
        quiet_until = min(e.date for e in events if e.date > cut) if any(
            e.date > cut for e in events) else as_of + DAY
        before = _discrete(machine, cut)
        bills, claims = len(machine.bills), len(machine.claims)
        day = cut + DAY
        while day < quiet_until and (nxt is None or day < nxt):
            machine.run([], day)
            assert (len(machine.bills), len(machine.claims)) == (bills, claims), day
            assert _discrete(machine, day) == before, day
            day += DAY


def test_a_machine_that_has_not_run_has_no_snapshot() -> None:
    terms, _events, _as_of = parse_scenario(json.loads(SCENARIOS[0].read_text()))
    with pytest.raises(ValueError):
        snapshot.dump(LoanMachine(terms))
    assert LoanMachine(terms).next_action() is None
