"""The risk-compensation fund for one agreement and year, derived by hand.

Agreement rate 0.15 (set at tender).  Disbursed under it in 2026:
university A 6000.00, B 6000.00, C 12000.00 (two loans; C's 2025
disbursement and the graduates' 2024 ones below do not count) — 24000.00.

    fund = 0.15 × 24000.00 = 3600.00; finance 1800.00, universities 1800.00.

Graduates' record on the year's last day, 2026-12-31 (the center's
university-performance report: loans whose borrower graduated, and of them
reportable defaults, servicing-rules.md §8: arrears run > 365 days and no
borrower-initiated contact dated 2026-01-01 or later).  Every graduate's loan
is 6000.00 disbursed 2024-09-01, a monthly plan confirmed at graduation,
and no payment ever, so its arrears run starts on its first bill, the
interest due on the 20th after graduation:

* graduated 2026-06-30: run from 2026-07-20, 164 days on 2026-12-31 —
  delinquent, not a default;
* graduated 2025-06-30: run from 2025-07-20, 365 + 164 = 529 days — a
  default (B's and C's defaulters);
* A's graduate is the same but phoned the bank on 2026-01-05: inside the
  contact window of 2026-12-31 (from 2026-01-01), so not a default then,
  though it is one on the job's run date 2027-01-05 (window from 2026-01-06).

A 1 graduate (the one who phoned), B 10 of 2026 + 1 defaulter, C 1 of 2026 +
1 defaulter.  Default rate by count and the policy tiers (0 → 1.0, from
0.05 → 1.2, from 0.10 → 1.5): A 0 of 1 = 0 → 1.0; B 1 of 11 = 0.0909 → 1.2;
C 1 of 2 = 0.5 → 1.5.

    weights: A 6000 × 1.0 = 6000, B 6000 × 1.2 = 7200, C 12000 × 1.5 = 18000; sum 31200
    exact:   A 1800 × 6000/31200 = 346.1538…, B 1800 × 7200/31200 = 415.3846…,
             C 1800 × 18000/31200 = 1038.4615…

Rounding each half-up gives 346.15 + 415.38 + 1038.46 = 1799.99, a fen
short.  Largest remainder: floors 346.15 + 415.38 + 1038.46 leave 0.01;
the remainders are A 0.38, B 0.46, C 0.15 fen, so B gets it:
346.15 + 415.39 + 1038.46 = 1800.00.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.auth.models import Role
from app.auth.principal import Principal
from app.defaults.reports import university_performance
from app.ledger.models import Account, JournalEntry, JournalLeg
from app.ledger.verify import orphan_legs, trial_balance, unbalanced_entries
from app.money import round_fen
from app.riskfund.models import RiskFund
from app.riskfund.service import run_year
from app.servicing.models import EventKind
from app.servicing.reconcile import loan_differences
from app.servicing.service import loan_state, record_event

D = dt.date.fromisoformat
OPERATOR = Principal.operator("test")
PLAN = {"grace_months": 12, "term_months": 72, "frequency": "monthly",
        "method": "equal_installment"}


def balance(db, code: str) -> Decimal:
    total = db.scalar(sa.select(sa.func.coalesce(sa.func.sum(JournalLeg.amount), 0))
                      .join(Account, Account.id == JournalLeg.account_id)
                      .where(Account.code == code))
    return round_fen(Decimal(str(total)))


def entries(db) -> int:
    return db.scalar(sa.select(sa.func.count()).select_from(JournalEntry))


@pytest.fixture
def year_2026(db, make_center, make_bank, make_university, make_agreement, make_loan, set_today):
    bank, center = make_bank(), make_center()
    agreement = make_agreement(center, bank, risk_compensation_rate=Decimal("0.15"))
    other = make_agreement(make_center(), bank)
    unis = {name: make_university(center) for name in "ABC"}

    def disburse(loan, day: str, amount: str = "6000") -> None:
        set_today(day)
        record_event(db, OPERATOR, loan, kind=EventKind.disbursement, event_date=D(day),
                     amount=Decimal(amount))

    disburse(make_loan(agreement=agreement, university=unis["A"]), "2026-09-10")
    disburse(make_loan(agreement=agreement, university=unis["B"]), "2026-09-10")
    c1 = make_loan(agreement=agreement, university=unis["C"])
    disburse(c1, "2025-09-10")
    disburse(c1, "2026-09-10")
    disburse(make_loan(agreement=agreement, university=unis["C"]), "2026-09-10")
    disburse(make_loan(agreement=other), "2026-09-10")  # another agreement's fund

    graduates = []

    def graduate(name: str, graduated: str, contact: str | None = None) -> None:
        loan = make_loan(agreement=agreement, university=unis[name], signed_on=D("2024-09-01"))
        disburse(loan, "2024-09-01")
        set_today(graduated)
        for kind, data in ((EventKind.plan, PLAN), (EventKind.graduation, None)):
            record_event(db, OPERATOR, loan, kind=kind, event_date=D(graduated), data=data)
        if contact:
            set_today(contact)
            record_event(db, OPERATOR, loan, kind=EventKind.contact, event_date=D(contact),
                         data={"channel": "phone", "initiated_by": "borrower"})
        graduates.append((name, graduated, loan))

    graduate("A", "2025-06-30", contact="2026-01-05")
    for name, current in (("B", 10), ("C", 1)):
        for _ in range(current):
            graduate(name, "2026-06-30")
        graduate(name, "2025-06-30")  # the defaulter
    db.flush()
    set_today("2027-01-05")
    return {"bank": bank, "center": center, "agreement": agreement, "unis": unis,
            "disburse": disburse, "graduates": graduates}


def fund_of(db, agreement) -> RiskFund:
    return db.scalars(sa.select(RiskFund).where(RiskFund.agreement_id == agreement.id)).one()


def test_fund_shares_to_the_fen_confirmed_paid_and_booked(db, client, year_2026, auth_headers,
                                                          set_today):
    summary = run_year(db, D("2027-01-05"))
    assert (summary.year, summary.funds_created) == (2026, 2)
    fund = fund_of(db, year_2026["agreement"])
    assert (fund.disbursed, fund.fund, fund.finance_half, fund.universities_half) == (
        Decimal("24000.00"), Decimal("3600.00"), Decimal("1800.00"), Decimal("1800.00"))
    center = auth_headers(Role.center_staff, year_2026["center"])
    body = client.get(f"/v1/risk-funds/{fund.id}", headers=center).json()
    unis = year_2026["unis"]
    shares = {s["university_id"]: (s["disbursed"], s["graduates"], s["defaults"],
                                   s["multiplier"], s["share"]) for s in body["shares"]}
    assert shares == {
        unis["A"].id: ("6000.00", 1, 0, "1", "346.15"),
        unis["B"].id: ("6000.00", 11, 1, "1.2", "415.39"),
        unis["C"].id: ("12000.00", 2, 1, "1.5", "1038.46"),
    }
    assert sum(Decimal(s[-1]) for s in shares.values()) == Decimal("1800.00")

    url = f"/v1/risk-funds/{fund.id}"
    before = entries(db)
    refused = client.post(f"{url}/pay", json={"paid_on": "2027-01-05"}, headers=center)
    assert refused.status_code == 409  # not paid before the disbursements are confirmed
    wrong = client.post(f"{url}/confirm", json={"disbursed": "23000.00"}, headers=center)
    assert wrong.status_code == 409 and "24000.00" in wrong.json()["error"]["message"]
    bank = auth_headers(Role.bank_operator, year_2026["bank"])
    assert client.post(f"{url}/confirm", json={"disbursed": "24000.00"},
                       headers=bank).status_code == 403
    assert entries(db) == before
    confirmed = client.post(f"{url}/confirm", json={"disbursed": "24000.00"}, headers=center)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    db.expire_all()
    assert balance(db, "risk_fund_receivable_finance") == Decimal("1800.00")
    assert balance(db, "risk_fund_receivable_universities") == Decimal("1800.00")
    assert balance(db, "risk_compensation_income") == Decimal("-3600.00")
    set_today("2027-01-20")
    paid = client.post(f"{url}/pay", json={"paid_on": "2027-01-20"}, headers=center)
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    db.expire_all()
    assert balance(db, "risk_fund_receivable_finance") == 0
    assert balance(db, "risk_fund_receivable_universities") == 0
    assert unbalanced_entries(db) == [] and orphan_legs(db) == 0
    assert trial_balance(db) == 0 and list(loan_differences(db)) == []
    assert client.post(f"{url}/pay", json={"paid_on": "2027-01-20"},
                       headers=center).status_code == 409


def test_the_graduates_record_is_the_engines_on_the_years_last_day(db, year_2026):
    """The arrears runs of the derivation, and A's graduate defaulting only after it."""
    runs = set()
    for name, graduated, loan in year_2026["graduates"]:
        state = loan_state(db, loan, D("2026-12-31"))
        runs.add((name, graduated, state.arrears_run_start, state.overdue.arrears_days,
                  state.default_reportable))
    assert runs == {
        ("A", "2025-06-30", D("2025-07-20"), 529, False),
        ("B", "2026-06-30", D("2026-07-20"), 164, False),
        ("B", "2025-06-30", D("2025-07-20"), 529, True),
        ("C", "2026-06-30", D("2026-07-20"), 164, False),
        ("C", "2025-06-30", D("2025-07-20"), 529, True),
    }
    a = year_2026["unis"]["A"].id
    assert [(c.borrowers, c.defaulted) for c in university_performance(
        db, as_of=D("2027-01-05"), university_id=a)] == [(1, 1)]


def test_rerunning_the_year_computes_and_posts_nothing(db, year_2026):
    run_year(db, D("2027-01-05"))
    funds, before = db.scalar(sa.select(sa.func.count()).select_from(RiskFund)), entries(db)
    again = run_year(db, D("2027-03-01"))
    assert (again.year, again.funds_created) == (2026, 0)
    assert db.scalar(sa.select(sa.func.count()).select_from(RiskFund)) == funds
    assert entries(db) == before


def test_a_late_disbursement_must_be_confirmed_with_the_new_total(db, client, year_2026,
                                                                  auth_headers, make_loan):
    run_year(db, D("2027-01-05"))
    fund = fund_of(db, year_2026["agreement"])
    # A bank file brings a 2026-12-30 disbursement of 1000.00 for A, recorded 2027-01-06.
    loan = make_loan(agreement=year_2026["agreement"], university=year_2026["unis"]["A"])
    year_2026["disburse"](loan, "2026-12-30", "1000")
    center = auth_headers(Role.center_staff, year_2026["center"])
    url = f"/v1/risk-funds/{fund.id}/confirm"
    assert client.post(url, json={"disbursed": "24000.00"}, headers=center).status_code == 409
    ok = client.post(url, json={"disbursed": "25000.00"}, headers=center).json()
    # 0.15 × 25000.00 = 3750.00: 1875.00 each half.
    assert (ok["fund"], ok["finance_half"], ok["universities_half"]) == (
        "3750.00", "1875.00", "1875.00")


def test_scoping_and_exports(db, client, year_2026, auth_headers, make_bank, make_center):
    run_year(db, D("2027-01-05"))
    fund = fund_of(db, year_2026["agreement"])
    url = f"/v1/risk-funds/{fund.id}"
    unis = year_2026["unis"]
    uni_b = auth_headers(Role.university_officer, unis["B"])
    own = client.get(url, headers=uni_b).json()
    assert [(s["university_id"], s["share"]) for s in own["shares"]] == [
        (unis["B"].id, "415.39")]
    assert [f["id"] for f in client.get("/v1/risk-funds", headers=uni_b).json()] == [fund.id]
    bank = auth_headers(Role.bank_operator, year_2026["bank"])
    assert len(client.get(url, headers=bank).json()["shares"]) == 3
    assert len(client.get("/v1/risk-funds", headers=bank).json()) == 2  # both its agreements
    center = auth_headers(Role.center_staff, year_2026["center"])
    assert [f["id"] for f in client.get("/v1/risk-funds", headers=center).json()] == [fund.id]
    for outsider in (auth_headers(Role.bank_operator, make_bank()),
                     auth_headers(Role.center_staff, make_center()),
                     auth_headers(Role.university_officer,
                                  db.get(type(unis["A"]), make_university_elsewhere(db)))):
        assert client.get(url, headers=outsider).status_code == 404
        assert client.get("/v1/risk-funds", headers=outsider).json() == []

    csv = client.get(f"{url}?format=csv", headers=uni_b).content.decode("utf-8-sig")
    assert csv.splitlines()[1].endswith(",415.39")
    sheet = load_workbook(io.BytesIO(client.get(f"{url}?format=xlsx", headers=center).content))
    shares = [row[-1] for row in sheet.active.iter_rows(min_row=2, values_only=True)]
    assert sorted(shares) == pytest.approx([346.15, 415.39, 1038.46])


def make_university_elsewhere(db) -> int:
    from tests import factories

    return factories.make_university(db).id
