"""The set-based settlement run against figures derived by hand, across banks and centers.

Two banks B1 and B2; a provincial center P and the national center N; B1
contracts with P and N, B2 with P.  Rate 6.12% a year, actual/360, so a
loan of A yuan earns A × 0.0612 × days / 360 (367.2 × days / 360 on 6000).
Every loan is disbursed on 2026-03-20 and stays in school:

* A  B1/P NSL-2004 6000 quarterly; on 2026-07-10 the bank reports a payment
  of 1000 made on 2026-05-01 (backdated, left for the nightly job: dirty);
* B  B1/P NSL-1999 5000 quarterly (finance pays 50%);
* C  B1/N NSL-2004 4000 quarterly;
* D  B2/P NSL-2004 3000 quarterly;
* E  B2/P NSL-2004 6000 monthly: claims on every 20th, stated only when a
  quarterly run comes, so the months between arrive as adjustment lines;
* F  B2/P NSL-2004 6000 annual: not due in June or September, on no statement.

No servicing runs between the disbursements and a settlement date: the run
services the loans behind (in bulk) before it compares.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.money import ZERO
from app.reference.models import CenterLevel
from app.servicing.models import EventKind
from app.servicing.service import record_event, run_loan
from app.subsidy.models import SubsidyStatement, SubsidyStatementLine
from app.subsidy.settlement import settle
from tests.subsidy.test_statements import OPERATOR, D, ledger_sound

AMOUNTS = {"A": "6000", "B": "5000", "C": "4000", "D": "3000", "E": "6000", "F": "6000"}


@pytest.fixture
def world(db, make_center, make_bank, make_university, make_agreement, make_loan, set_today):
    b1, b2 = make_bank(), make_bank()
    prov, national = make_center(), make_center(level=CenterLevel.national)
    b1p, b1n, b2p = (make_agreement(prov, b1), make_agreement(national, b1),
                     make_agreement(prov, b2))
    u_p, u_n = make_university(prov), make_university(national)
    loans = {
        "A": make_loan(agreement=b1p, university=u_p),
        "B": make_loan(agreement=b1p, university=u_p, policy_code="NSL-1999"),
        "C": make_loan(agreement=b1n, university=u_n),
        "D": make_loan(agreement=b2p, university=u_p),
        "E": make_loan(agreement=b2p, university=u_p, subsidy_settlement="monthly"),
        "F": make_loan(agreement=b2p, university=u_p, subsidy_settlement="annual"),
    }
    set_today("2026-03-20")
    for name, amount in AMOUNTS.items():
        record_event(db, OPERATOR, loans[name], kind=EventKind.disbursement,
                     event_date=D("2026-03-20"), amount=Decimal(amount))
    return {"loans": loans, "banks": {b1.id: "B1", b2.id: "B2"},
            "centers": {prov.id: "P", national.id: "N"}}


def issued(db, world, day: str) -> dict[tuple[str, str], tuple]:
    """The statements of ``day`` by (bank, center): totals and lines by (loan, claim date)."""
    banks, centers = world["banks"], world["centers"]
    names = {loan.id: name for name, loan in world["loans"].items()}
    out = {}
    for s in db.scalars(sa.select(SubsidyStatement)
                        .where(SubsidyStatement.settlement_date == D(day))):
        lines = {(names[x.loan_id], x.claim_date.isoformat()):
                 (x.kind.value, x.previously_claimed, x.claim_amount, x.amount)
                 for x in db.scalars(sa.select(SubsidyStatementLine)
                                     .where(SubsidyStatementLine.statement_id == s.id))}
        out[(banks[s.bank_id], centers[s.center_id])] = (
            s.finance_level.value, s.claims_total, s.adjustments_total, s.total, lines)
    return out


def counts(db) -> tuple[int, int]:
    return (db.scalar(sa.select(sa.func.count()).select_from(SubsidyStatement)),
            db.scalar(sa.select(sa.func.count()).select_from(SubsidyStatementLine)))


def claim(amount: str) -> tuple:
    return ("claim", ZERO, Decimal(amount), Decimal(amount))


def test_statements_per_bank_and_center_with_a_backdated_payment(db, world, set_today):
    loans = world["loans"]
    set_today("2026-06-20")
    june = settle(db, D("2026-06-20"))
    # June claim, 03-20 … 06-19 = 12 + 30 + 31 + 19 = 92 days:
    # A 367.2 × 92 / 360 = 93.84; B 5000: 306 × 92 / 360 = 78.20, half = 39.10;
    # C 4000: 244.8 × 92 / 360 = 62.56; D 3000: 183.6 × 92 / 360 = 46.92.
    # E monthly: 04-20 covers 03-20 … 04-19, 31 days: 367.2 × 31 / 360 = 31.62;
    # 05-20 covers 30 days: 30.60; 06-20 covers 05-20 … 06-19, 31 days: 31.62.
    assert issued(db, world, "2026-06-20") == {
        ("B1", "P"): ("provincial", Decimal("132.94"), ZERO, Decimal("132.94"), {
            ("A", "2026-06-20"): claim("93.84"),
            ("B", "2026-06-20"): claim("39.10")}),
        ("B1", "N"): ("central", Decimal("62.56"), ZERO, Decimal("62.56"), {
            ("C", "2026-06-20"): claim("62.56")}),
        # 46.92 + 31.62 = 78.54 claimed; 31.62 + 30.60 = 62.22 adjusted; 140.76.
        ("B2", "P"): ("provincial", Decimal("78.54"), Decimal("62.22"), Decimal("140.76"), {
            ("D", "2026-06-20"): claim("46.92"),
            ("E", "2026-04-20"): ("adjustment", ZERO, Decimal("31.62"), Decimal("31.62")),
            ("E", "2026-05-20"): ("adjustment", ZERO, Decimal("30.60"), Decimal("30.60")),
            ("E", "2026-06-20"): claim("31.62")}),
    }
    # F (annual) is not due; the five others were serviced in bulk first.
    # 132.94 + 62.56 + 140.76 = 336.26.
    assert (june.loans_due, june.loans_serviced, june.statements_created, june.lines,
            june.total) == (5, 5, 3, 7, Decimal("336.26"))
    ledger_sound(db)

    again = settle(db, D("2026-06-20"))
    assert (again.loans_due, again.loans_serviced, again.statements_created, again.lines,
            again.total) == (5, 0, 0, 0, ZERO)
    assert counts(db) == (3, 7)

    # A payment of 1000 made on 05-01 reaches the bank's books on 07-10.  A's June
    # claim is now 03-20 … 04-30 (42 days) on 6000: 367.2 × 42 / 360 = 42.84, plus
    # 05-01 … 06-19 (50 days) on 5000: 306 × 50 / 360 = 42.50; 85.34 in all.
    set_today("2026-07-10")
    record_event(db, OPERATOR, loans["A"], kind=EventKind.payment, event_date=D("2026-05-01"),
                 amount=Decimal("1000"), service=False)
    set_today("2026-09-20")
    september = settle(db, D("2026-09-20"))
    # September claim, 06-20 … 09-19 = 11 + 31 + 31 + 19 = 92 days: A on 5000: 78.20;
    # B 39.10, C 62.56, D 46.92 as before.  E: 07-20 (06-20 … 07-19, 30 days) 30.60,
    # 08-20 (31 days) 31.62, 09-20 (31 days) 31.62.
    assert issued(db, world, "2026-09-20") == {
        # 78.20 + 39.10 = 117.30 claimed, 85.34 − 93.84 = −8.50 adjusted: 108.80.
        ("B1", "P"): ("provincial", Decimal("117.30"), Decimal("-8.50"), Decimal("108.80"), {
            ("A", "2026-06-20"): ("adjustment", Decimal("93.84"), Decimal("85.34"),
                                  Decimal("-8.50")),
            ("A", "2026-09-20"): claim("78.20"),
            ("B", "2026-09-20"): claim("39.10")}),
        ("B1", "N"): ("central", Decimal("62.56"), ZERO, Decimal("62.56"), {
            ("C", "2026-09-20"): claim("62.56")}),
        ("B2", "P"): ("provincial", Decimal("78.54"), Decimal("62.22"), Decimal("140.76"), {
            ("D", "2026-09-20"): claim("46.92"),
            ("E", "2026-07-20"): ("adjustment", ZERO, Decimal("30.60"), Decimal("30.60")),
            ("E", "2026-08-20"): ("adjustment", ZERO, Decimal("31.62"), Decimal("31.62")),
            ("E", "2026-09-20"): claim("31.62")}),
    }
    # 108.80 + 62.56 + 140.76 = 312.12; A (dirty) and the four others behind were serviced.
    assert (september.loans_due, september.loans_serviced, september.statements_created,
            september.lines, september.total) == (5, 5, 3, 8, Decimal("312.12"))
    ledger_sound(db)

    # Per loan and claim date, every line so far adds up to the engine's claims.
    stated: dict = {}
    for x in db.scalars(sa.select(SubsidyStatementLine)):
        stated[(x.loan_id, x.claim_date)] = stated.get((x.loan_id, x.claim_date), ZERO) + x.amount
    engine = {(loan.id, c.date): c.amount for name, loan in loans.items() if name != "F"
              for c in run_loan(db, loan, D("2026-09-20")).claims}
    assert stated == engine

    # A later backdated change for D waits: the date's statement for B2/P exists.
    set_today("2026-09-25")
    record_event(db, OPERATOR, loans["D"], kind=EventKind.payment, event_date=D("2026-08-01"),
                 amount=Decimal("500"))
    rerun = settle(db, D("2026-09-20"))
    assert (rerun.statements_created, rerun.lines, rerun.total) == (0, 0, ZERO)
    assert counts(db) == (6, 15)
