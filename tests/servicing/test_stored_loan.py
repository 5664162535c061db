"""A stored loan driven through the API ends with the simulation's figures,
and its ledger matches the engine after every step (both databases)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.auth.models import Role
from app.engine.scenario import run_scenario
from app.ledger.models import JournalEntry
from app.ledger.verify import orphan_legs, trial_balance, unbalanced_entries
from app.reference.models import Bank, University
from app.servicing.models import EventKind, LoanEvent
from app.servicing.reconcile import loan_differences
from app.servicing.service import record_event

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "spec" / "examples"


def assert_ledger_sound(db) -> None:
    db.expire_all()  # the API wrote through its own session
    assert unbalanced_entries(db) == []
    assert orphan_legs(db) == 0
    assert trial_balance(db) == 0
    assert list(loan_differences(db)) == []


@pytest.fixture
def loan_api(db, client, make_loan, auth_headers, set_today):
    """A loan plus bank and university headers, and a ``post`` helper that pins the date."""
    from app.auth.principal import Principal

    loan = make_loan()
    bank = auth_headers(Role.bank_operator, db.get(Bank, loan.bank_id))
    uni = auth_headers(Role.university_officer, db.get(University, loan.university_id))
    operator = Principal.operator("test")

    def post(path: str, body: dict, headers: dict, today: str, status: int = 201) -> dict:
        set_today(today)
        response = client.post(f"/v1/loans/{loan.id}/{path}", json=body, headers=headers)
        assert response.status_code == status, response.text
        return response.json()

    def disburse(day: str, amount: str) -> None:
        set_today(day)
        from decimal import Decimal

        record_event(db, operator, loan, kind=EventKind.disbursement,
                     event_date=__import__("datetime").date.fromisoformat(day),
                     amount=Decimal(amount))
        db.flush()

    def graduate(**plan) -> None:
        """6000.00 disbursed 2025-09-10; plan confirmed and graduation on 2026-06-30."""
        disburse("2025-09-10", "6000.00")
        terms = {"confirmed_on": "2026-06-30", "grace_months": 12, "term_months": 72,
                 "frequency": "monthly", "method": "equal_installment"} | plan
        post("plan", terms, bank, "2026-06-30")
        post("status-events", {"kind": "graduation", "date": "2026-06-30"}, uni, "2026-06-30")

    return loan, bank, uni, post, disburse, graduate


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="shared/spec/examples not beside the checkout")
def test_graduation_gate_then_example_two_through_the_api(db, client, loan_api, set_today):
    loan, bank, uni, post, disburse, graduate = loan_api
    disburse("2025-09-10", "6000.00")
    disburse("2026-09-10", "6000.00")
    refused = post("status-events", {"kind": "graduation", "date": "2027-06-30"}, uni,
                   "2027-06-30", status=409)
    assert refused["error"]["code"] == "plan_not_confirmed"
    post("plan", {"confirmed_on": "2027-06-30", "grace_months": 12, "term_months": 72,
                  "frequency": "monthly", "method": "equal_installment"}, bank, "2027-06-30")
    post("status-events", {"kind": "graduation", "date": "2027-06-30"}, uni, "2027-06-30")
    assert_ledger_sound(db)
    post("payments", {"value_date": "2028-07-20", "amount": "300.00"}, bank, "2028-07-22")
    post("contacts", {"date": "2029-01-05", "channel": "phone", "initiated_by": "borrower"},
         bank, "2029-01-05")
    set_today("2030-03-01")
    got = client.get(f"/v1/loans/{loan.id}?as_of=2030-03-01", headers=bank).json()
    expected = json.loads((EXAMPLES / "monthly-installments-arrears.expected.json").read_text())
    for key, value in expected.items():
        assert got[key] == value, key
    assert_ledger_sound(db)


def test_backdated_payment_reposts_by_reversal_and_matches_simulation(db, client, loan_api):
    loan, bank, uni, post, disburse, graduate = loan_api
    graduate()
    post("payments", {"value_date": "2026-07-20", "amount": "30.00"}, bank, "2026-07-20")
    post("payments", {"value_date": "2026-09-25", "amount": "40.00"}, bank, "2026-09-25")
    # A bank file arrives late: a payment received on 2026-08-20, recorded in October.
    post("payments", {"value_date": "2026-08-20", "amount": "31.00"}, bank, "2026-10-05")
    assert_ledger_sound(db)
    reversals = db.scalar(sa.select(sa.func.count()).select_from(JournalEntry)
                          .where(JournalEntry.loan_id == loan.id,
                                 JournalEntry.reverses_entry_id.is_not(None)))
    assert reversals > 0  # the later payment's allocation changed: reversed, reposted
    scenario = {
        "policy": "NSL-2004", "annual_rate": "0.0612", "as_of": "2026-10-05",
        "events": [
            {"date": "2025-09-10", "type": "disbursement", "amount": "6000.00"},
            {"date": "2026-06-30", "type": "plan", "grace_months": 12, "term_months": 72,
             "frequency": "monthly", "method": "equal_installment"},
            {"date": "2026-06-30", "type": "graduation"},
            {"date": "2026-07-20", "type": "payment", "amount": "30.00"},
            {"date": "2026-08-20", "type": "payment", "amount": "31.00"},
            {"date": "2026-09-25", "type": "payment", "amount": "40.00"},
        ]}
    got = client.get(f"/v1/loans/{loan.id}?as_of=2026-10-05", headers=bank).json()
    want = run_scenario(scenario)
    for key in ("status", "principal_outstanding", "bills", "payments", "overdue",
                "accrued_interest", "totals", "subsidy_claims"):
        assert got[key] == want[key], key


def test_reversal_restores_the_figures_without_the_payment(db, client, loan_api):
    loan, bank, uni, post, disburse, graduate = loan_api
    graduate()
    before = client.get(f"/v1/loans/{loan.id}?as_of=2026-08-01", headers=bank).json()
    payment = post("payments", {"value_date": "2026-07-20", "amount": "500.00",
                                "bank_txn_id": "B1"}, bank, "2026-07-20")
    post(f"payments/{payment['id']}/reversal", {"value_date": "2026-07-21"}, bank, "2026-07-21")
    after = client.get(f"/v1/loans/{loan.id}?as_of=2026-08-01", headers=bank).json()
    assert {k: v for k, v in after.items() if k != "loan"} == \
        {k: v for k, v in before.items() if k != "loan"}
    assert_ledger_sound(db)
    again = post(f"payments/{payment['id']}/reversal", {"value_date": "2026-07-21"}, bank,
                 "2026-07-21", status=409)
    assert again["error"]["code"] == "already_reversed"


def test_second_adjustment_is_refused_and_changes_nothing(db, client, loan_api):
    loan, bank, uni, post, disburse, graduate = loan_api
    disburse("2025-09-10", "6000.00")
    plan = {"confirmed_on": "2026-06-30", "grace_months": 12, "term_months": 72,
            "frequency": "monthly", "method": "equal_installment"}
    post("plan", plan, bank, "2026-06-30")
    post("status-events", {"kind": "graduation", "date": "2026-06-30"}, uni, "2026-06-30")
    post("plan", plan | {"confirmed_on": "2026-08-01", "frequency": "quarterly"}, bank,
         "2026-08-01")
    entries = db.scalar(sa.select(sa.func.count()).select_from(JournalEntry))
    refused = post("plan", plan | {"confirmed_on": "2026-09-01"}, bank, "2026-09-01",
                   status=409)
    assert "allows 1 plan adjustment" in refused["error"]["message"]
    assert db.scalar(sa.select(sa.func.count()).select_from(JournalEntry)) == entries
    events = client.get(f"/v1/loans/{loan.id}/events", headers=bank).json()
    assert [e["kind"] for e in events].count("plan") == 2


def test_other_bank_and_university_see_nothing(db, client, loan_api, auth_headers,
                                               make_bank, make_university):
    loan, *_ = loan_api
    other_bank = auth_headers(Role.bank_operator, make_bank())
    other_uni = auth_headers(Role.university_officer, make_university())
    for headers in (other_bank, other_uni):
        assert client.get(f"/v1/loans/{loan.id}", headers=headers).status_code == 404
        response = client.post(f"/v1/loans/{loan.id}/payments", headers=headers,
                               json={"value_date": "2025-01-01", "amount": "1.00"})
        assert response.status_code == 404
        assert client.get("/v1/loans", headers=headers).json() == []


def test_future_value_date_is_refused(loan_api):
    loan, bank, uni, post, disburse, graduate = loan_api
    disburse("2025-09-10", "6000.00")
    body = post("payments", {"value_date": "2025-10-02", "amount": "5.00"}, bank, "2025-10-01",
                status=422)
    assert body["error"]["code"] == "future_date"


def test_payoff_quote_paid_on_its_date_closes_the_loan(db, client, loan_api):
    loan, bank, uni, post, disburse, graduate = loan_api
    graduate()
    quote = client.get(f"/v1/loans/{loan.id}/payoff?date=2026-08-05", headers=bank).json()
    # 6000.00 at 6.12%: 1.02 a day.  Bill 07-20 = 20 days (06-30..07-19) = 20.40, unpaid
    # and overdue since 07-21; accrued since 07-20 = 16 days = 16.32; penalty on the
    # overdue interest 20.40 × 0.0612 × 1.3 / 360 × 15 days (07-21..08-04) = 0.07.
    assert quote == {"date": "2026-08-05", "total": "6036.79", "penalty": "0.07",
                     "billed_interest": "20.40", "billed_principal": "0.00",
                     "accrued_interest": "16.32", "principal_unbilled": "6000.00"}
    post("payments", {"value_date": "2026-08-05", "amount": quote["total"]}, bank, "2026-08-05")
    state = client.get(f"/v1/loans/{loan.id}?as_of=2026-08-05", headers=bank).json()
    assert state["status"] == "closed"
    assert state["payments"][-1]["to_unapplied"] == "0.00"


def test_schedule_preview_bills_all_principal(db, client, loan_api):
    loan, bank, uni, post, disburse, graduate = loan_api
    graduate(term_months=24, frequency="quarterly", method="equal_principal")
    preview = client.get(f"/v1/loans/{loan.id}/schedule?as_of=2026-06-30", headers=bank).json()
    # Quarterly due dates after 06-30 up to 2028-06-30; instalment dates from grace end
    # 2027-06-30: 2027-09-20, 2027-12-20, 2028-03-20, 2028-06-20 → 6000 / 4 = 1500.00.
    assert preview["installment"] == "1500.00"
    assert [b["date"] for b in preview["bills"]] == [
        "2026-09-20", "2026-12-20", "2027-03-20", "2027-06-20",
        "2027-09-20", "2027-12-20", "2028-03-20", "2028-06-20"]
    assert [b["principal"] for b in preview["bills"]][4:] == ["1500.00"] * 4
    # First bill: interest 06-30..09-19 = 82 days × 1.02 = 83.64.
    assert preview["bills"][0]["interest"] == "83.64"


def test_an_amount_no_money_column_holds_is_refused_by_name(db, client, loan_api):
    """Seventeen digits parse as a decimal but fit no NUMERIC(18, 2): a 422 that
    names the field, and nothing recorded."""
    loan, bank, uni, post, disburse, graduate = loan_api
    graduate()
    before = db.scalar(sa.select(sa.func.count()).select_from(LoanEvent)
                       .where(LoanEvent.loan_id == loan.id))
    refused = post("payments", {"value_date": "2026-07-20", "amount": "12345678901234567.00"},
                   bank, "2026-07-20", status=422)
    assert refused["error"]["code"] == "validation_error"
    assert "amount" in json.dumps(refused["error"]) and "too large" in json.dumps(refused["error"])
    assert db.scalar(sa.select(sa.func.count()).select_from(LoanEvent)
                     .where(LoanEvent.loan_id == loan.id)) == before
