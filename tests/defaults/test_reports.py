"""Forgiveness (代偿) through the ledger, and the center's reports
(the two sides' defaulters of test_lists.py, loans of conftest.py)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import sqlalchemy as sa

from app.db import money_total
from app.defaults.reports import university_performance
from app.ledger.models import Account, JournalLeg
from app.ledger.verify import orphan_legs, trial_balance, unbalanced_entries
from app.servicing.reconcile import loan_differences


def test_forgiveness_closes_the_loan_through_the_ledger(client, db, two_sides, set_today):
    world, loans = two_sides
    staff, bank = world.keys["center_staff"], world.keys["bank_operator"]
    loan = loans["A"]
    set_today("2025-01-10")
    quote = client.get(f"/v1/loans/{loan.id}/payoff?date=2025-01-10", headers=staff).json()
    assert client.post(f"/v1/loans/{loan.id}/forgiveness", headers=bank, json={
        "approved_on": "2025-01-10", "case_reference": "XZ-2025-1"}).status_code == 403
    made = client.post(f"/v1/loans/{loan.id}/forgiveness", headers=staff, json={
        "approved_on": "2025-01-10", "case_reference": "XZ-2025-1"})
    assert made.status_code == 201, made.text
    state = client.get(f"/v1/loans/{loan.id}?as_of=2025-01-10", headers=staff).json()
    assert state["status"] == "closed" and state["principal_outstanding"] == "0.00"
    db.expire_all()
    assert unbalanced_entries(db) == [] and orphan_legs(db) == 0 and trial_balance(db) == 0
    assert list(loan_differences(db)) == []
    of_account = Account.id == JournalLeg.account_id
    fund = db.scalar(sa.select(money_total(JournalLeg.amount)).join(Account, of_account)
                     .where(Account.code == "forgiveness_fund", JournalLeg.loan_id == loan.id))
    assert f"{fund:.2f}" == quote["total"]
    cash = db.scalar(sa.select(sa.func.count()).select_from(JournalLeg).join(Account, of_account)
                     .where(Account.code == "bank_cash", JournalLeg.amount > 0,
                            JournalLeg.loan_id == loan.id))
    assert cash == 0  # nothing came from the borrower
    report = client.get("/v1/reports/forgiveness?as_of=2025-01-10", headers=staff).json()
    assert report == [{"university_id": world.ids["uA"], "loans": 1, "amount": quote["total"]}]
    assert client.get("/v1/reports/forgiveness?as_of=2025-01-09", headers=staff).json() == []
    assert loan.id not in {i["loan_id"] for i in client.get(
        "/v1/default-list?as_of=2025-01-10", headers=staff).json()["items"]}
    again = client.post(f"/v1/loans/{loan.id}/forgiveness", headers=staff, json={
        "approved_on": "2025-01-10", "case_reference": "XZ-2025-1"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_forgivable"


def test_aging_by_university_and_bank(client, two_sides):
    world, loans = two_sides
    staff = world.keys["center_staff"]
    got = client.get("/v1/reports/aging?as_of=2024-12-20&by=university", headers=staff).json()
    assert got == [{"key_id": world.ids["uA"], "bucket": ">365", "loans": 2,
                    "principal_outstanding": "2000.00", "overdue_amount": "16.76"}]
    by_bank = client.get("/v1/reports/aging?as_of=2024-12-19&by=bank",
                         headers=world.keys["bank_operator"]).json()
    assert by_bank == [{"key_id": world.ids["bA"], "bucket": "181-365", "loans": 1,
                        "principal_outstanding": "1000.00", "overdue_amount": "8.38"}]


def test_university_performance_by_cohort(client, db, two_sides, defaulter, make_loan):
    world, loans = two_sides
    rows = university_performance(db, as_of=dt.date(2024, 12, 20),
                                  university_id=world.ids["uA"])
    assert [(r.graduation_year, r.borrowers, r.defaulted, str(r.disbursed),
             str(r.default_rate_by_count), str(r.default_rate_by_amount)) for r in rows] == [
        (2023, 2, 2, "2000.00", "1.000000", "1.000000")]
    before = university_performance(db, as_of=dt.date(2024, 12, 19),
                                    university_id=world.ids["uA"])
    assert [(r.defaulted, str(r.default_rate_by_count)) for r in before] == [(0, "0.000000")]
    got = client.get("/v1/reports/university-performance?as_of=2024-12-20",
                     headers=world.keys["university_officer"]).json()
    assert [(r["university_id"], r["defaulted"]) for r in got] == [(world.ids["uA"], 2)]


def test_staff_ratio(client, two_sides):
    world, _ = two_sides
    got = client.get("/v1/monitoring/staff-ratio?academic_year=2024-2025",
                     headers=world.keys["center_staff"]).json()
    assert got == [{"university_id": world.ids["uA"], "university_name": got[0]["university_name"],
                    "staff": 0, "full_time_students": 1000, "required_staff": 1,
                    "meets_ratio": False}]


def test_credit_report_month_end(client, db, two_sides):
    world, loans = two_sides
    got = client.get("/v1/reports/credit?month=2024-12", headers=world.keys["bank_operator"])
    assert got.status_code == 200, got.text
    lines = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert [line["account_no"] for line in lines] == [loans["A"].contract_no]
    line = lines[0]
    # as of 2024-12-31: bills 8.00 (overdue since 2023-12-21) and 36.60 (since 2024-12-21);
    # penalty 8.00 x 377 x 0.00013 + 36.60 x 11 x 0.00013 = 0.444418 -> 0.44
    assert {k: line[k] for k in ("status", "principal_balance", "overdue_amount",
                                 "days_past_due", "worst_status", "report_month")} == {
        "status": "default", "principal_balance": "1000.00", "overdue_amount": "45.04",
        "days_past_due": "377", "worst_status": "5", "report_month": "2024-12"}
    assert client.get("/v1/reports/credit?month=2024-12",
                      headers=world.keys["university_officer"]).status_code == 403
    assert client.get("/v1/reports/credit?month=2024-13",
                      headers=world.keys["bank_operator"]).status_code == 422
