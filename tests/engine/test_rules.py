"""Unit tests of single rules, each figure worked out in the comment."""

import datetime as dt
from decimal import Decimal as D

import pytest

from app.engine.dates import add_months, frequency_dates
from app.engine.events import ContinuedStudy, Disbursement, EventError, Graduation, Payment, Plan
from app.engine.machine import LoanMachine, Terms
from app.engine.scenario import ScenarioError, parse_scenario, run_scenario
from app.engine.state import simulate
from app.money import round_fen
from app.policy import get_policy

d = dt.date.fromisoformat


def terms(policy="NSL-2004", rate="0.036", settlement="quarterly"):
    return Terms(get_policy(policy), D(rate), D("0.3"), settlement)


def test_round_fen_is_half_up():
    assert round_fen(D("0.005")) == D("0.01")
    assert round_fen(D("2.675")) == D("2.68")
    assert round_fen(D("-0.004")) == D("0.00")


@pytest.mark.parametrize(
    "start,months,expected",
    [("2024-08-31", 6, "2025-02-28"), ("2023-08-31", 6, "2024-02-29"),
     ("2024-01-31", 1, "2024-02-29"), ("2027-06-30", 72, "2033-06-30"),
     ("2024-12-20", 1, "2025-01-20")],
)
def test_add_months_clamps_to_month_end(start, months, expected):
    assert add_months(d(start), months) == d(expected)


def test_frequency_dates_are_strictly_after_and_bounded():
    got = list(frequency_dates("quarterly", 20, d("2025-06-20"), d("2026-03-20")))
    assert got == [d("2025-09-20"), d("2025-12-20"), d("2026-03-20")]


def test_disbursement_day_counts_and_payment_day_does_not():
    # 1000.00 at 3.6%: 0.10 a day.  Disbursed 09-01, repaid in full on 09-30:
    # 29 days (算头不算尾) = 2.90, all paid by finance while in school.
    events = [Disbursement(d("2025-09-01"), 0, D("1000.00")),
              Payment(d("2025-09-30"), 1, D("1000.00"))]
    state = simulate(terms(settlement="monthly"), events, d("2025-10-20"))
    assert [(c.date, c.amount) for c in state.subsidy_claims] == [
        (d("2025-09-20"), D("1.90")), (d("2025-10-20"), D("1.00"))]
    assert state.status == "closed"


def test_nsl_1999_splits_interest_in_half_and_bills_borrower_on_settlement_dates():
    # 1000.00 at 3.6% from 2025-01-01: 78 days to 03-20 → 7.80 → 3.90 each.
    state = simulate(terms("NSL-1999"), [Disbursement(d("2025-01-01"), 0, D("1000.00"))],
                     d("2025-03-20"))
    assert [c.amount for c in state.subsidy_claims] == [D("3.90")]
    assert [(b.due, b.interest, b.principal) for b in state.bills] == [
        (d("2025-03-20"), D("3.90"), D("0"))]


def test_second_adjustment_and_late_adjustment_are_refused():
    base = [Disbursement(d("2024-09-01"), 0, D("6000.00")),
            Graduation(d("2025-06-30"), 1),
            Plan(d("2025-06-30"), 2, 12, 72, "monthly", "equal_installment")]
    ok = base + [Plan(d("2026-06-30"), 3, 24, 72, "annual", "equal_principal")]
    simulate(terms(), ok, d("2026-07-01"))  # day 365 after graduation: allowed
    late = base + [Plan(d("2026-07-01"), 3, 24, 72, "annual", "equal_principal")]
    with pytest.raises(EventError, match=r"event 3 \(plan\): plan adjustment 366 days"):
        simulate(terms(), late, d("2026-07-02"))
    twice = ok + [Plan(d("2026-06-30"), 4, 12, 72, "monthly", "equal_principal")]
    with pytest.raises(EventError, match=r"event 4 \(plan\): NSL-2004 allows 1 plan adjustment"):
        simulate(terms(), twice, d("2026-07-01"))


def test_plan_outside_policy_is_refused():
    events = [Disbursement(d("2024-09-01"), 0, D("6000.00")), Graduation(d("2025-06-30"), 1),
              Plan(d("2025-06-30"), 2, 30, 72, "monthly", "equal_installment")]
    with pytest.raises(EventError, match=r"event 2 \(plan\): grace_months 30 outside"):
        simulate(terms(), events, d("2025-07-01"))


def test_disbursement_after_graduation_is_refused_but_allowed_in_continued_study():
    grad = [Disbursement(d("2024-09-01"), 0, D("6000.00")), Graduation(d("2025-06-30"), 1)]
    with pytest.raises(EventError, match=r"event 2 \(disbursement\): disbursement after"):
        simulate(terms(), grad + [Disbursement(d("2025-09-01"), 2, D("6000.00"))],
                 d("2025-09-02"))
    back = grad + [ContinuedStudy(d("2025-09-01"), 2), Disbursement(d("2025-09-01"), 3,
                                                                   D("6000.00"))]
    state = simulate(terms(), back, d("2025-09-02"))
    assert state.status == "in_school" and state.principal_outstanding == D("12000.00")


@pytest.mark.parametrize(
    "change,message",
    [({"events": [{"date": "2025-01-01", "type": "lottery"}]}, "event 0: unknown event type"),
     ({"annual_rate": 0.03}, "annual_rate: must be a decimal string"),
     ({"events": [{"date": "2025-13-01", "type": "graduation"}]}, "event 0 (graduation)"),
     ({"events": [{"date": "2025-01-01", "type": "payment", "amount": "1.001"}]},
      "more than two decimals"),
     ({"policy": "NSL-1900"}, "unknown policy version")],
)
def test_scenario_errors_name_the_field(change, message):
    raw = {"policy": "NSL-2004", "annual_rate": "0.03", "as_of": "2025-02-01",
           "events": [{"date": "2025-01-01", "type": "disbursement", "amount": "100.00"}]}
    with pytest.raises(ScenarioError) as err:
        parse_scenario({**raw, **change})
    assert message in str(err.value)


def test_machine_advanced_day_by_day_equals_one_run():
    raw = {"policy": "NSL-2004", "annual_rate": "0.0612", "as_of": "2029-03-01",
           "events": [
               {"date": "2025-09-10", "type": "disbursement", "amount": "6000.00"},
               {"date": "2027-06-30", "type": "graduation"},
               {"date": "2027-06-30", "type": "plan", "grace_months": 12, "term_months": 72,
                "frequency": "monthly", "method": "equal_installment"},
               {"date": "2028-07-25", "type": "payment", "amount": "500.00"}]}
    terms_, events, as_of = parse_scenario(raw)
    stepped = LoanMachine(terms_)
    day = events[0].date
    while day <= as_of:
        stepped.run(events, day)
        day += dt.timedelta(days=1)
    whole = LoanMachine(terms_).run(events, as_of)
    assert stepped.bills == whole.bills and stepped.claims == whole.claims
    assert stepped.acc_penalty == whole.acc_penalty
    assert run_scenario(raw)["overdue"]["days_past_due"] > 0
