"""Subsidy statements from stored loans, every figure derived by hand.

One bank contracts with a provincial center P and the national center N.
Rate 6.12% a year, actual/360: a day's interest on 1000 yuan is
1000 × 0.0612 / 360 = 0.17 yuan exactly, so a loan of A yuan earns
A × 0.0612 × days / 360.

Loans, all disbursed on the settlement date 2026-03-20 (so the March claim
is zero and the quarter to 2026-06-20 is the first one claimed):

* L1 NSL-2004, 6000, in school all quarter;
* L2 NSL-1999 (old rules: finance pays 50% in school and after), 5000;
* L3 NSL-2004, 4000, graduates mid-quarter on 2026-05-01;
* L4 NSL-2004, 3000, graduates 2026-03-25 and returns to school for a
  further degree (continued study) on 2026-04-15;
* L5 NSL-2004, 6000, at a university of the national center.

The June claim covers 2026-03-20 … 2026-06-19 (the days before the
settlement date): March 20–31 = 12 days, April 30, May 31, June 1–19 = 19,
92 days in all.
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
from app.ledger.models import JournalEntry
from app.ledger.service import loan_balances
from app.ledger.verify import orphan_legs, trial_balance, unbalanced_entries
from app.money import ZERO
from app.reference.models import Bank, Center, CenterLevel
from app.servicing.models import EventKind
from app.servicing.reconcile import loan_differences
from app.servicing.service import record_event, run_loan
from app.subsidy.models import SubsidyStatement, SubsidyStatementLine
from app.subsidy.settlement import settle

D = dt.date.fromisoformat
OPERATOR = Principal.operator("test")
PLAN = {"grace_months": 12, "term_months": 72, "frequency": "monthly",
        "method": "equal_installment"}


def ledger_sound(db) -> None:
    db.expire_all()
    assert unbalanced_entries(db) == []
    assert orphan_legs(db) == 0
    assert trial_balance(db) == 0
    assert list(loan_differences(db)) == []


def entry_count(db) -> int:
    return db.scalar(sa.select(sa.func.count()).select_from(JournalEntry))


@pytest.fixture
def quarter(db, make_center, make_bank, make_university, make_agreement, make_loan, set_today):
    """The five loans through 2026-06-20 (events recorded on their dates)."""
    bank = make_bank()
    prov, national = make_center(), make_center(level=CenterLevel.national)
    ag_p, ag_n = make_agreement(prov, bank), make_agreement(national, bank)
    u_p, u_n = make_university(prov), make_university(national)
    loans = {
        "L1": make_loan(agreement=ag_p, university=u_p),
        "L2": make_loan(agreement=ag_p, university=u_p, policy_code="NSL-1999"),
        "L3": make_loan(agreement=ag_p, university=u_p),
        "L4": make_loan(agreement=ag_p, university=u_p),
        "L5": make_loan(agreement=ag_n, university=u_n),
    }

    def event(name: str, kind: EventKind, day: str, **kw) -> None:
        set_today(day)
        record_event(db, OPERATOR, loans[name], kind=kind, event_date=D(day), **kw)

    def graduate(name: str, day: str) -> None:
        event(name, EventKind.plan, day, data=PLAN)
        event(name, EventKind.graduation, day)

    for name, amount in (("L1", "6000"), ("L2", "5000"), ("L3", "4000"), ("L4", "3000"),
                         ("L5", "6000")):
        event(name, EventKind.disbursement, "2026-03-20", amount=Decimal(amount))
    graduate("L4", "2026-03-25")
    event("L4", EventKind.continued_study_start, "2026-04-15",
          data={"proof_reference": "admission letter 2026-117"})
    graduate("L3", "2026-05-01")
    set_today("2026-06-20")
    return {"bank": bank, "prov": prov, "national": national, "loans": loans,
            "graduate": graduate, "u_p": u_p}


def lines_by_contract(db, statement: SubsidyStatement, loans) -> dict[str, tuple]:
    names = {loan.id: name for name, loan in loans.items()}
    return {(names[x.loan_id], x.claim_date.isoformat()): (x.kind.value, x.previously_claimed,
                                                           x.claim_amount, x.amount)
            for x in db.scalars(sa.select(SubsidyStatementLine)
                                .where(SubsidyStatementLine.statement_id == statement.id))}


def statement_of(db, center: Center, day: str) -> SubsidyStatement:
    return db.scalars(sa.select(SubsidyStatement).where(
        SubsidyStatement.center_id == center.id,
        SubsidyStatement.settlement_date == D(day))).one()


def test_quarter_statement_both_policies_graduation_and_return(db, quarter):
    summary = settle(db, D("2026-06-20"))
    assert (summary.statements_created, summary.lines) == (2, 5)
    june = statement_of(db, quarter["prov"], "2026-06-20")
    # L1: 6000 × 0.0612 × 92 / 360 = 367.2 × 92 / 360 = 33782.4 / 360 = 93.84 (finance 100%).
    # L2: 5000 × 0.0612 × 92 / 360 = 28152 / 360 = 78.20, finance 50% = 39.10.
    # L3: in school 03-20 … 04-30 = 12 + 30 = 42 days, borrower pays from 05-01:
    #     4000 × 0.0612 × 42 / 360 = 10281.6 / 360 = 28.56.
    # L4: in school 03-20 … 03-24 (5 days) and again from the return 04-15 … 06-19
    #     (16 + 31 + 19 = 66 days): 71 days; 3000 × 0.0612 × 71 / 360 = 13035.6 / 360 = 36.21.
    assert lines_by_contract(db, june, quarter["loans"]) == {
        ("L1", "2026-06-20"): ("claim", ZERO, Decimal("93.84"), Decimal("93.84")),
        ("L2", "2026-06-20"): ("claim", ZERO, Decimal("39.10"), Decimal("39.10")),
        ("L3", "2026-06-20"): ("claim", ZERO, Decimal("28.56"), Decimal("28.56")),
        ("L4", "2026-06-20"): ("claim", ZERO, Decimal("36.21"), Decimal("36.21")),
    }
    # 93.84 + 39.10 + 28.56 + 36.21 = 197.71, paid by provincial finance.
    assert (june.finance_level.value, june.claims_total, june.adjustments_total, june.total) == (
        "provincial", Decimal("197.71"), ZERO, Decimal("197.71"))
    central = statement_of(db, quarter["national"], "2026-06-20")
    assert (central.finance_level.value, central.total) == ("central", Decimal("93.84"))


def test_backdated_graduation_is_an_adjustment_on_the_next_statement(
    db, client, quarter, auth_headers, set_today
):
    loans, prov = quarter["loans"], quarter["prov"]
    settle(db, D("2026-06-20"))
    june = statement_of(db, prov, "2026-06-20")
    center = auth_headers(Role.center_staff, prov)
    set_today("2026-07-05")
    assert client.post(f"/v1/subsidy-statements/{june.id}/approve",
                       headers=center).status_code == 200
    paid = client.post(f"/v1/subsidy-statements/{june.id}/pay", json={"paid_on": "2026-07-05"},
                       headers=center)
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    ledger_sound(db)
    assert loan_balances(db, [loans["L1"].id])[(loans["L1"].id, "subsidy_receivable")] == ZERO

    # 2026-07-10: the university records L1's graduation of 2026-06-01, late.  L1's June
    # claim is now 03-20 … 05-31 = 12 + 30 + 31 = 73 days: 367.2 × 73 / 360 = 74.46.
    set_today("2026-07-10")
    quarter["graduate"]("L1", "2026-06-01")
    set_today("2026-09-20")
    settle(db, D("2026-09-20"))
    september = statement_of(db, prov, "2026-09-20")
    # September claim covers 06-20 … 09-19 = 11 + 31 + 31 + 19 = 92 days:
    # L2 39.10 as before; L4 in school: 3000 × 0.0612 × 92 / 360 = 16891.2 / 360 = 46.92;
    # L1 and L3 graduated: nothing.  L1's June claim: 74.46 − 93.84 = −19.38.
    assert lines_by_contract(db, september, loans) == {
        ("L1", "2026-06-20"): ("adjustment", Decimal("93.84"), Decimal("74.46"),
                               Decimal("-19.38")),
        ("L2", "2026-09-20"): ("claim", ZERO, Decimal("39.10"), Decimal("39.10")),
        ("L4", "2026-09-20"): ("claim", ZERO, Decimal("46.92"), Decimal("46.92")),
    }
    # 39.10 + 46.92 = 86.02 claimed, −19.38 adjusted: 66.64.
    assert (september.claims_total, september.adjustments_total, september.total) == (
        Decimal("86.02"), Decimal("-19.38"), Decimal("66.64"))
    # The paid June statement is untouched.
    db.refresh(june)
    assert (june.status.value, june.total) == ("paid", Decimal("197.71"))
    assert len(lines_by_contract(db, june, loans)) == 4
    # L1 was over-claimed until the September statement is paid.
    assert loan_balances(db, [loans["L1"].id])[(loans["L1"].id, "subsidy_receivable")] == Decimal(
        "-19.38")

    # Totals reconcile: per loan and date, the statements' lines add up to the engine's claims.
    stated: dict[tuple[int, dt.date], Decimal] = {}
    for line in db.scalars(sa.select(SubsidyStatementLine)):
        key = (line.loan_id, line.claim_date)
        stated[key] = stated.get(key, ZERO) + line.amount
    engine = {(loan.id, c.date): c.amount for loan in loans.values()
              for c in run_loan(db, loan, D("2026-09-20")).claims}
    assert {k: v for k, v in stated.items() if v} == engine

    for statement in (september, statement_of(db, quarter["national"], "2026-06-20"),
                      statement_of(db, quarter["national"], "2026-09-20")):
        center_of = auth_headers(Role.center_staff, db.get(Center, statement.center_id))
        client.post(f"/v1/subsidy-statements/{statement.id}/approve", headers=center_of)
        assert client.post(f"/v1/subsidy-statements/{statement.id}/pay",
                           json={"paid_on": "2026-09-20"}, headers=center_of).status_code == 200
    ledger_sound(db)
    balances = loan_balances(db, [loan.id for loan in loans.values()])
    assert all(balances.get((loan.id, "subsidy_receivable"), ZERO) == 0
               for loan in loans.values())


def test_rerunning_a_settlement_date_issues_and_posts_nothing(db, quarter):
    first = settle(db, D("2026-06-20"))
    entries, statements = entry_count(db), db.scalar(
        sa.select(sa.func.count()).select_from(SubsidyStatement))
    again = settle(db, D("2026-06-20"))
    assert first.statements_created == 2
    assert (again.statements_created, again.loans_serviced, again.lines) == (0, 0, 0)
    assert entry_count(db) == entries
    assert db.scalar(sa.select(sa.func.count()).select_from(SubsidyStatement)) == statements
    # Not a settlement date of any loan: nothing at all.
    assert settle(db, D("2026-06-21")).loans_due == 0


def test_statement_exports_and_workflow_rules(db, client, quarter, auth_headers, set_today):
    settle(db, D("2026-06-20"))
    june = statement_of(db, quarter["prov"], "2026-06-20")
    bank = auth_headers(Role.bank_operator, quarter["bank"])
    url = f"/v1/subsidy-statements/{june.id}"
    body = client.get(url, headers=bank).json()
    assert body["total"] == "197.71"
    assert sorted(x["amount"] for x in body["lines"]) == ["28.56", "36.21", "39.10", "93.84"]
    assert {x["policy_code"] for x in body["lines"]} == {"NSL-1999", "NSL-2004"}

    csv = client.get(f"{url}?format=csv", headers=bank)
    assert csv.headers["content-type"].startswith("text/csv")
    rows = csv.content.decode("utf-8-sig").splitlines()
    assert rows[0].startswith("loan id,contract,borrower")
    assert sorted(r.rsplit(",", 1)[1] for r in rows[1:]) == ["28.56", "36.21", "39.10", "93.84"]

    xlsx = client.get(f"{url}?format=xlsx", headers=bank)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    amounts = sorted(row[-1] for row in sheet.iter_rows(min_row=2, values_only=True))
    assert all(isinstance(a, int | float) for a in amounts)  # numbers, not text
    assert [Decimal(str(a)) for a in amounts] == [Decimal(x) for x in
                                                  ("28.56", "36.21", "39.1", "93.84")]

    center = auth_headers(Role.center_staff, quarter["prov"])
    assert client.post(f"{url}/approve", headers=bank).status_code == 403
    early = client.post(f"{url}/pay", json={"paid_on": "2026-06-20"}, headers=center)
    assert early.status_code == 409  # not approved yet
    assert client.post(f"{url}/approve", headers=center).status_code == 200
    assert client.post(f"{url}/approve", headers=center).status_code == 409
    future = client.post(f"{url}/pay", json={"paid_on": "2026-06-21"}, headers=center)
    assert future.status_code == 422
    assert client.post(f"{url}/pay", json={"paid_on": "2026-06-20"},
                       headers=center).status_code == 200


def test_scoping(db, client, quarter, auth_headers, make_bank, make_center):
    settle(db, D("2026-06-20"))
    june = statement_of(db, quarter["prov"], "2026-06-20")
    url = f"/v1/subsidy-statements/{june.id}"

    def listed(headers) -> set[int]:
        return {s["id"] for s in client.get("/v1/subsidy-statements", headers=headers).json()}

    own_bank = auth_headers(Role.bank_operator, quarter["bank"])
    other_bank = auth_headers(Role.bank_operator, make_bank())
    prov = auth_headers(Role.center_staff, quarter["prov"])
    national = auth_headers(Role.center_staff, quarter["national"])
    university = auth_headers(Role.university_officer, quarter["u_p"])
    central = statement_of(db, quarter["national"], "2026-06-20")
    assert listed(own_bank) == {june.id, central.id}
    assert listed(prov) == {june.id}
    assert listed(national) == {central.id}
    assert listed(other_bank) == listed(university) == set()
    for headers in (other_bank, national, university):
        assert client.get(url, headers=headers).status_code == 404
    assert client.post(f"{url}/approve", headers=national).status_code == 404
    assert client.get(url, headers=own_bank).status_code == 200
    assert db.get(Bank, quarter["bank"].id) is not None
