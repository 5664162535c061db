"""Origination end to end through the API (both databases): quota, application,
vetting, batch, approval, contract, two disbursements, status events, the
graduation gate, the contact address report."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from app.ledger.models import JournalEntry, JournalLeg
from app.ledger.verify import trial_balance, unbalanced_entries
from app.origination.models import Quota


def test_from_application_to_graduation(db, flow, set_today):
    w = flow.w
    # The center sets the quotas: base = 1000 eligible full-time students
    # x 20% x 6000 (NSL-2004); the first year adjusted down with a reason.
    q1 = flow.quota("2025-2026", actual="1000000.00", reason="default record of 2024")
    assert (q1["enrolment"], q1["base"], q1["actual"]) == (1000, "1200000.00", "1000000.00")
    assert q1["adjusted_by"] and q1["adjustment_reason"] == "default record of 2024"
    q2 = flow.quota("2026-2027")
    assert (q2["base"], q2["actual"], q2["adjustment_reason"]) == ("1200000.00", "1200000.00",
                                                                 None)

    app = flow.apply()
    assert app["status"] == "received" and app["student_name"] == "张三"
    assert [y["amount"] for y in app["years"]] == ["6000.00", "6000.00"]

    # Vetting and submission; 20 working days from Monday 1 September 2025 end on
    # Sunday 28 September, a make-up workday before the National Day holiday.
    batch = flow.vet_and_submit(app["id"])
    assert batch["bank_id"] == w.bank.id and batch["application_ids"] == [app["id"]]
    assert (batch["submitted_on"], batch["deadline_on"]) == ("2025-09-01", "2025-09-28")
    listed = flow.call("GET", "/applications?status=submitted", w.bank_h, 200)
    assert [a["id"] for a in listed] == [app["id"]]

    decision = flow.decide(app["id"], decided_on="2025-09-10")
    assert (decision["decision"], decision["late"]) == ("approved", False)
    quotas = {q["academic_year"]: q for q in flow.call("GET", "/quotas", w.center_h, 200)}
    assert quotas["2025-2026"]["consumed"] == "6000.00"
    assert quotas["2025-2026"]["remaining"] == "994000.00"
    assert quotas["2026-2027"]["consumed"] == "6000.00"

    contract = flow.sign(app["id"])
    assert contract["policy_code"] == "NSL-2004"
    assert contract["contract_no"] == f"NSL-{w.bank.code}-2025-{app['id']:06d}"
    assert (contract["penalty_markup"], contract["subsidy_settlement"]) == ("0.300000",
                                                                            "quarterly")
    assert [(y["academic_year"], y["amount"], y["disbursed"]) for y in contract["years"]] == [
        ("2025-2026", "6000.00", "0.00"), ("2026-2027", "6000.00", "0.00")]
    loan_id = contract["loan_id"]
    assert flow.call("GET", f"/applications/{app['id']}", w.uni, 200)["loan_id"] == loan_id

    first = flow.disburse(loan_id, "2025-2026", "6000.00", "2025-09-15", bank_txn_id="D1")
    assert (first["year_disbursed"], first["year_amount"]) == ("6000.00", "6000.00")
    set_today("2026-09-15")
    flow.disburse(loan_id, "2026-2027", "6000.00", "2026-09-15", bank_txn_id="D2")
    years = flow.call("GET", f"/contracts/{loan_id}", w.bank_h, 200)["years"]
    assert [y["disbursed"] for y in years] == ["6000.00", "6000.00"]
    loan = flow.call("GET", f"/loans/{loan_id}?as_of=2026-09-15", w.bank_h, 200)
    assert loan["principal_outstanding"] == "12000.00"
    # Each disbursement is one balanced entry: principal_unbilled / bank_cash.
    db.expire_all()
    entries = db.scalars(sa.select(JournalEntry).where(
        JournalEntry.loan_id == loan_id, JournalEntry.kind == "disbursement")).all()
    assert len(entries) == 2
    legs = db.scalars(sa.select(JournalLeg).where(
        JournalLeg.entry_id.in_([e.id for e in entries]))).all()
    assert sum(leg.amount for leg in legs) == Decimal("0")
    assert unbalanced_entries(db) == [] and trial_balance(db) == 0

    # Status events through the servicing endpoints; the graduation gate.
    set_today("2027-06-30")
    events = f"/loans/{loan_id}/status-events"
    refused = flow.call("POST", events, w.uni, 409, {"kind": "graduation", "date": "2027-06-30"})
    assert refused["error"]["code"] == "plan_not_confirmed"
    flow.call("POST", f"/loans/{loan_id}/plan", w.bank_h, 201,
              {"confirmed_on": "2027-06-30", "grace_months": 12, "term_months": 72,
               "frequency": "monthly", "method": "equal_installment"})
    flow.call("POST", events, w.uni, 201, {"kind": "graduation", "date": "2027-06-30"})
    assert flow.call("GET", f"/loans/{loan_id}", w.uni, 200)["loan"]["status"] == "repaying"

    # The contact address: listed for the center once the year has passed.
    set_today("2028-07-01")
    missing = flow.call("GET", "/address-reports/missing", w.center_h, 200)
    assert missing == [{"loan_id": loan_id, "contract_no": contract["contract_no"],
                        "university_id": w.university.id, "graduated_on": "2027-06-30",
                        "due_on": "2028-06-30", "overdue": True}]
    report = flow.call("POST", f"/contracts/{loan_id}/address-reports", w.uni, 201,
                       {"kind": "employment", "employer": "某公司", "address": "上海市浦东新区"})
    assert (report["graduated_on"], report["late"]) == ("2027-06-30", True)
    assert flow.call("GET", "/address-reports/missing", w.center_h, 200) == []
    assert flow.call("GET", "/decisions/overdue?as_of=2028-07-01", w.center_h, 200) == []
    db.expire_all()
    assert db.scalar(sa.select(sa.func.sum(Quota.consumed))) == Decimal("12000.00")
