"""Simulation scenarios (simulation.md): JSON in, the engine's result out.

Parsing is strict: a wrong type, a missing field, an unknown event type or a
float where a decimal string belongs is refused with the event index named,
exactly like an event the rules refuse.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from app.engine.events import (
    Contact,
    ContinuedStudy,
    Disbursement,
    Event,
    Graduation,
    Payment,
    Plan,
    RateChange,
)
from app.engine.machine import Terms
from app.engine.state import LoanState, simulate
from app.money import fmt, parse_amount
from app.policy import get_policy

SETTLEMENTS = ("monthly", "quarterly", "annual")
_EVENT_FIELDS: dict[str, tuple[type[Event], tuple[str, ...]]] = {
    "disbursement": (Disbursement, ("amount",)),
    "graduation": (Graduation, ()),
    "continued_study_start": (ContinuedStudy, ()),
    "plan": (Plan, ("grace_months", "term_months", "frequency", "method")),
    "payment": (Payment, ("amount",)),
    "contact": (Contact, ()),
    "rate_change": (RateChange, ("annual_rate",)),
}


class ScenarioError(ValueError):
    """A scenario that cannot be run; ``str()`` is the message to show."""


def _date(value: Any, where: str) -> dt.date:
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: date must be a string YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ScenarioError(f"{where}: {value!r} is not a date YYYY-MM-DD") from None


def parse_rate(value: Any, where: str) -> Decimal:
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: must be a decimal string such as \"0.0435\"")
    try:
        rate = Decimal(value)
    except InvalidOperation:
        raise ScenarioError(f"{where}: {value!r} is not a decimal") from None
    if not rate.is_finite() or not 0 <= rate < 1:
        raise ScenarioError(f"{where}: {value!r} must be at least 0 and below 1")
    return rate


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ScenarioError(f"{where}: must be a whole number of months, not {value!r}")
    return value


def _amount(value: Any, where: str) -> Decimal:
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: amount must be a decimal string such as \"530.16\"")
    try:
        return parse_amount(value)
    except ValueError as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def parse_event(index: int, raw: Any) -> Event:
    where = f"event {index}"
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: must be an object")
    kind = raw.get("type")
    if kind not in _EVENT_FIELDS:
        raise ScenarioError(
            f"{where}: unknown event type {kind!r}; expected one of {', '.join(_EVENT_FIELDS)}"
        )
    where = f"{where} ({kind})"
    cls, fields = _EVENT_FIELDS[kind]
    unknown = set(raw) - {"date", "type", *fields}
    if unknown:
        raise ScenarioError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    missing = [f for f in ("date", *fields) if f not in raw]
    if missing:
        raise ScenarioError(f"{where}: missing field {missing[0]!r}")
    values: dict[str, Any] = {"date": _date(raw["date"], where), "index": index}
    for name in fields:
        value = raw[name]
        if name == "amount":
            values[name] = _amount(value, f"{where} amount")
        elif name == "annual_rate":
            values[name] = parse_rate(value, f"{where} annual_rate")
        elif name in ("grace_months", "term_months"):
            values[name] = _int(value, f"{where} {name}")
        else:
            if not isinstance(value, str):
                raise ScenarioError(f"{where} {name}: must be a string")
            values[name] = value
    return cls(**values)


def parse_scenario(raw: Any) -> tuple[Terms, list[Event], dt.date]:
    if not isinstance(raw, dict):
        raise ScenarioError("scenario must be a JSON object")
    known = {"policy", "annual_rate", "penalty_markup", "subsidy_settlement", "events", "as_of"}
    unknown = set(raw) - known
    if unknown:
        raise ScenarioError(f"unknown field {sorted(unknown)[0]!r}")
    for name in ("policy", "annual_rate", "events", "as_of"):
        if name not in raw:
            raise ScenarioError(f"missing field {name!r}")
    try:
        policy = get_policy(raw["policy"]) if isinstance(raw["policy"], str) else None
    except KeyError:
        policy = None
    if policy is None:
        raise ScenarioError(f"policy: unknown policy version {raw['policy']!r}")
    rate = parse_rate(raw["annual_rate"], "annual_rate")
    markup = policy.arrears.penalty_markup
    if "penalty_markup" in raw:
        markup = parse_rate(raw["penalty_markup"], "penalty_markup")
    settlement = raw.get("subsidy_settlement", policy.calendar.default_settlement)
    if settlement not in SETTLEMENTS:
        raise ScenarioError(
            f"subsidy_settlement: {settlement!r}; expected one of {', '.join(SETTLEMENTS)}"
        )
    events_raw = raw["events"]
    if not isinstance(events_raw, list) or not events_raw:
        raise ScenarioError("events: must be a non-empty list")
    events = [parse_event(i, e) for i, e in enumerate(events_raw)]
    as_of = _date(raw["as_of"], "as_of")
    return Terms(policy, rate, markup, settlement), events, as_of


def state_to_json(state: LoanState) -> dict[str, Any]:
    """The result document of simulation.md; every amount a decimal string."""
    o, t = state.overdue, state.totals
    return {
        "as_of": state.as_of.isoformat(),
        "status": state.status,
        "principal_outstanding": fmt(state.principal_outstanding),
        "installment": None if state.installment is None else fmt(state.installment),
        "subsidy_claims": [
            {"date": c.date.isoformat(), "amount": fmt(c.amount)} for c in state.subsidy_claims
        ],
        "bills": [
            {"date": b.due.isoformat(), "interest": fmt(b.interest), "principal": fmt(b.principal)}
            for b in state.bills
        ],
        "payments": [
            {
                "date": p.date.isoformat(),
                "amount": fmt(p.amount),
                "to_penalty": fmt(p.to_penalty),
                "to_interest": fmt(p.to_interest),
                "to_principal": fmt(p.to_principal),
                "to_accrued_interest": fmt(p.to_accrued_interest),
                "to_prepayment": fmt(p.to_prepayment),
                "to_unapplied": fmt(p.to_unapplied),
            }
            for p in state.payments
        ],
        "overdue": {
            "principal": fmt(o.principal),
            "interest": fmt(o.interest),
            "penalty_accrued": fmt(o.penalty_accrued),
            "days_past_due": o.days_past_due,
            "arrears_days": o.arrears_days,
        },
        "accrued_interest": fmt(state.accrued_interest),
        "default_reportable": state.default_reportable,
        "delinquency_bucket": state.delinquency_bucket,
        "totals": {
            "subsidy": fmt(t.subsidy),
            "borrower_interest": fmt(t.borrower_interest),
            "penalty": fmt(t.penalty),
            "principal_repaid": fmt(t.principal_repaid),
            "unapplied": fmt(t.unapplied),
        },
    }


def run_scenario(raw: Any) -> dict[str, Any]:
    """Parse, simulate, render.  Raises ``ScenarioError`` or ``EventError``."""
    terms, events, as_of = parse_scenario(raw)
    return state_to_json(simulate(terms, events, as_of))
