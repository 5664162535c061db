"""A loan's machine, saved at the end of a day and resumed later.

The nightly job does not replay a loan's whole life on a due date: it loads
the machine as the last run left it and runs on (``LoanMachine.run`` is
resumable).  The snapshot keeps everything the rules need to go on, and only
that: the balances, exact accumulators, plan, status and the bills still
unpaid (or due on the last day).  Settled history (paid bills, past claims,
allocations, disbursements, contacts older than the contact window) is left
out, because going on never reads it: it already sits in the ledger.  So a
resumed machine decides exactly what an uninterrupted run decides from the
snapshot's day on (tests/engine/test_snapshot.py), but its history lists are
short: read totals from a full run (``app.servicing.service.loan_state``).

The text is compact JSON; decimals as strings (exact), dates ISO.  Written
and read with orjson: for these values (ASCII only) byte for byte what
``json.dumps(…, separators=(",", ":"))`` writes, at a tenth of the cost, and
the nightly job saves and loads a machine per loan serviced.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson

from app.engine.events import Plan
from app.engine.machine import Bill, LoanMachine, Terms

FORMAT = 1


def _date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _undate(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


def _plan(event: Plan) -> list[Any]:
    return [event.date.isoformat(), event.index, event.grace_months, event.term_months,
            event.frequency, event.method]


def _unplan(raw: list[Any]) -> Plan:
    day, index, grace, term, frequency, method = raw
    return Plan(dt.date.fromisoformat(day), index, grace, term, frequency, method)


def dump(machine: LoanMachine) -> str:
    """The machine at the end of ``machine.day`` as compact JSON text."""
    if machine.day is None:
        raise ValueError("a machine that has not run has no state to save")
    day = machine.day
    window = dt.timedelta(days=machine.policy.arrears.contact_window_days)
    plan = machine.plan
    state = {
        "v": FORMAT,
        "day": day.isoformat(),
        "rate": str(machine.rate),
        "disbursed": str(machine.disbursed),
        "pu": str(machine.principal_unbilled),
        "ab": str(machine.acc_borrower),
        "af": str(machine.acc_finance),
        "ap": str(machine.acc_penalty),
        "school": machine.in_school,
        "grad": _date(machine.graduation_date),
        "plan": None if plan is None else [*_plan(plan.event), plan.confirmed_on.isoformat()],
        "pending": None if machine.pending_plan is None else _plan(machine.pending_plan),
        "adj": machine.adjustments_used,
        "inst": None if machine.instalment is None else str(machine.instalment),
        "run": _date(machine.run_start),
        "first": _date(machine.first_disbursement),
        "bills": [
            [b.due.isoformat(), str(b.interest), str(b.principal), str(b.interest_paid),
             str(b.principal_paid)]
            for b in machine.bills if b.unpaid > 0 or b.due >= day
        ],
        "contacts": [c.isoformat() for c in machine.contacts if c > day - window],
    }
    return orjson.dumps(state).decode()


def load(terms: Terms, text: str) -> LoanMachine:
    """A machine that goes on from the saved day exactly as the saved one would."""
    raw = orjson.loads(text)
    if raw.get("v") != FORMAT:
        raise ValueError(f"unknown machine snapshot format {raw.get('v')!r}")
    m = LoanMachine(terms)
    m.day = dt.date.fromisoformat(raw["day"])
    m.rate = Decimal(raw["rate"])
    m.disbursed = Decimal(raw["disbursed"])
    m.principal_unbilled = Decimal(raw["pu"])
    m.acc_borrower = Decimal(raw["ab"])
    m.acc_finance = Decimal(raw["af"])
    m.acc_penalty = Decimal(raw["ap"])
    m.in_school = raw["school"]
    m.graduation_date = _undate(raw["grad"])
    m.pending_plan = None if raw["pending"] is None else _unplan(raw["pending"])
    m.adjustments_used = raw["adj"]
    m.instalment = None if raw["inst"] is None else Decimal(raw["inst"])
    m.run_start = _undate(raw["run"])
    m.first_disbursement = _undate(raw["first"])
    m.bills = [
        Bill(dt.date.fromisoformat(due), Decimal(i), Decimal(p), Decimal(ip), Decimal(pp))
        for due, i, p, ip, pp in raw["bills"]
    ]
    m.contacts = [dt.date.fromisoformat(c) for c in raw["contacts"]]
    if raw["plan"] is not None:
        *event, confirmed_on = raw["plan"]
        m.plan = m.schedule(_unplan(event), dt.date.fromisoformat(confirmed_on))
    return m
