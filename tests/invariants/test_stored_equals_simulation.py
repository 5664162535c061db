"""The stored-loan path decides what the simulation decides, and the ledger
books it soundly after every event (both databases)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import HealthCheck, given, settings

from app import clock
from app.auth.principal import Principal
from app.engine.scenario import run_scenario, state_to_json
from app.ledger.verify import orphan_legs, trial_balance, unbalanced_entries
from app.servicing import service
from app.servicing.models import EventKind
from app.servicing.reconcile import loan_differences
from tests.invariants.strategies import loan_lives

OPERATOR = Principal.operator("invariants")
KINDS = {"disbursement": EventKind.disbursement, "graduation": EventKind.graduation,
         "plan": EventKind.plan, "payment": EventKind.payment, "contact": EventKind.contact,
         "rate_change": EventKind.rate_change}


def _record(db, loan, event: dict) -> None:
    day = dt.date.fromisoformat(event["date"])
    clock.set_today(day)
    data: dict = {}
    if event["type"] == "plan":
        data = {k: event[k] for k in ("grace_months", "term_months", "frequency", "method")}
    elif event["type"] == "contact":
        data = {"channel": "phone", "initiated_by": "borrower"}
    elif event["type"] == "rate_change":
        data = {"annual_rate": event["annual_rate"]}
    amount = Decimal(event["amount"]) if "amount" in event else None
    service.record_event(db, OPERATOR, loan, kind=KINDS[event["type"]], event_date=day,
                         amount=amount, data=data)


@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=loan_lives())
def test_stored_loan_equals_simulation_and_ledger_holds(db, make_loan, scenario) -> None:
    savepoint = db.begin_nested()
    try:
        loan = make_loan(annual_rate=Decimal(scenario["annual_rate"]),
                         subsidy_settlement=scenario["subsidy_settlement"])
        as_of = dt.date.fromisoformat(scenario["as_of"])
        for event in scenario["events"]:
            if dt.date.fromisoformat(event["date"]) > as_of:
                break
            _record(db, loan, event)
            assert unbalanced_entries(db) == [] and orphan_legs(db) == 0
            assert trial_balance(db) == 0
            assert list(loan_differences(db)) == []
        clock.set_today(as_of)
        service.service_loan(db, loan, through=as_of, posted_by="invariants")
        assert list(loan_differences(db)) == []
        stored = state_to_json(service.loan_state(db, loan, as_of))
        assert stored == run_scenario(scenario)
    finally:
        clock.set_today(None)
        savepoint.rollback()
