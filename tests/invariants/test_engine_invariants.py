"""Invariants of the engine over random loan lives (servicing-rules.md §5–§8)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given

from app.engine.machine import LoanMachine
from app.engine.scenario import parse_scenario, run_scenario
from tests.invariants.strategies import loan_lives

ZERO = "0.00"


@given(loan_lives())
def test_money_is_conserved_and_never_negative(scenario: dict) -> None:
    result = run_scenario(scenario)
    for p in result["payments"]:
        parts = sum(Decimal(p[k]) for k in ("to_penalty", "to_interest", "to_principal",
                                            "to_accrued_interest", "to_prepayment",
                                            "to_unapplied"))
        assert parts == Decimal(p["amount"])
        assert all(Decimal(p[k]) >= 0 for k in p if k.startswith("to_"))
    disbursed = sum(Decimal(e["amount"]) for e in scenario["events"]
                    if e["type"] == "disbursement")
    assert Decimal(result["principal_outstanding"]) >= 0
    assert Decimal(result["principal_outstanding"]) + Decimal(
        result["totals"]["principal_repaid"]) == disbursed
    billed_principal = sum(Decimal(b["principal"]) for b in result["bills"])
    assert billed_principal <= disbursed
    paid = sum(Decimal(p["amount"]) for p in result["payments"])
    assert paid == sum(Decimal(v) for k, v in result["totals"].items()
                       if k in ("penalty", "principal_repaid", "unapplied")) + sum(
        Decimal(p["to_interest"]) + Decimal(p["to_accrued_interest"])
        for p in result["payments"])


@given(loan_lives())
def test_a_closed_loan_owes_nothing(scenario: dict) -> None:
    result = run_scenario(scenario)
    if result["status"] == "closed":
        assert result["principal_outstanding"] == ZERO
        assert result["accrued_interest"] == ZERO
        assert result["overdue"] == {"principal": ZERO, "interest": ZERO,
                                     "penalty_accrued": ZERO, "days_past_due": 0,
                                     "arrears_days": 0}
        assert result["default_reportable"] is False


@given(loan_lives())
def test_day_by_day_equals_one_run(scenario: dict) -> None:
    """The nightly path (one business date at a time) decides what one run decides."""
    terms, events, as_of = parse_scenario(scenario)
    whole = LoanMachine(terms).run(events, as_of)
    stepped = LoanMachine(terms)
    day = events[0].date
    step = dt.timedelta(days=7)  # a week at a time keeps the test quick
    while day < as_of:
        stepped.run(events, day)
        day += step
    stepped.run(events, as_of)
    assert stepped.bills == whole.bills
    assert stepped.claims == whole.claims
    assert stepped.payments == whole.payments
    assert (stepped.acc_borrower, stepped.acc_penalty, stepped.run_start) == (
        whole.acc_borrower, whole.acc_penalty, whole.run_start)
