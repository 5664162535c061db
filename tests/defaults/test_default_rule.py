"""The default rule (servicing-rules.md §8) on stored loans, derived by hand;
see conftest.py for the loan.  Compound interest on the overdue 8.00 is
0.036 x 1.3 / 360 = 0.00013 per yuan per day."""

from __future__ import annotations

import datetime as dt

from app.auth.principal import Principal
from app.defaults import service
from app.money import fmt
from app.servicing.models import Loan
from tests.defaults.conftest import contact, pay

ADMIN = Principal.operator("test")


def listed(db, as_of: str) -> dict[int, dict]:
    from app.defaults.exports import row_values

    return {r.loan_id: row_values(r)
            for r in service.default_list(db, ADMIN, as_of=dt.date.fromisoformat(as_of))}


def delinquency(db, loan: Loan, as_of: str) -> dict:
    return service.delinquency(db, ADMIN, loan.id, dt.date.fromisoformat(as_of))


def test_365_days_of_arrears_is_not_a_default_366_is(db, defaulter):
    loan = defaulter()
    d = delinquency(db, loan, "2024-12-19")
    # 8.00 x 365 days x 0.00013 = 0.3796 -> 0.38
    assert (d["arrears_days"], d["days_past_due"], d["bucket"]) == (365, 365, "181-365")
    assert (str(d["overdue_interest"]), str(d["penalty_accrued"])) == ("8.00", "0.38")
    assert d["default_reportable"] is False
    assert loan.id not in listed(db, "2024-12-19")

    d = delinquency(db, loan, "2024-12-20")
    assert (d["arrears_days"], d["days_past_due"], d["bucket"]) == (366, 366, ">365")
    assert d["default_reportable"] is True
    row = listed(db, "2024-12-20")[loan.id]
    # 8.00 x 366 x 0.00013 = 0.38064 -> 0.38; the 2024-12-20 bill is due, not overdue
    assert {k: fmt(row[k]) for k in ("overdue_principal", "overdue_interest", "penalty_accrued",
                                     "overdue_total", "principal_outstanding")} == {
        "overdue_principal": "0.00", "overdue_interest": "8.00", "penalty_accrued": "0.38",
        "overdue_total": "8.38", "principal_outstanding": "1000.00"}
    assert (row["arrears_run_start"], row["arrears_days"], row["graduation_year"]) == (
        dt.date(2023, 12, 20), 366, 2023)


def test_a_contact_364_days_before_keeps_the_borrower_off_the_list(db, defaulter):
    loan = defaulter()
    contact(db, loan, "2023-12-22")  # 2024-12-20 - 364: inside the window
    assert delinquency(db, loan, "2024-12-20")["default_reportable"] is False
    assert loan.id not in listed(db, "2024-12-20")


def test_a_contact_365_days_before_does_not(db, defaulter):
    loan = defaulter()
    contact(db, loan, "2023-12-21")  # 2024-12-20 - 365: outside the window
    assert loan.id in listed(db, "2024-12-20")


def test_only_borrower_initiated_contacts_count(db, defaulter):
    loan = defaulter()
    contact(db, loan, "2024-12-01", initiated_by="bank")
    assert loan.id in listed(db, "2024-12-20")


def test_partial_payments_keep_the_arrears_run_alive(db, defaulter):
    loan = defaulter()
    # 2024-06-01, 5.00: penalty through 05-31, 8.00 x 163 x 0.00013 = 0.16952 -> 0.17,
    # then 4.83 to the bill: 3.17 stays unpaid, the run goes on.
    pay(db, loan, "2024-06-01", "5.00")
    row = listed(db, "2024-12-20")[loan.id]
    # penalty: -0.00048 left + 3.17 x 203 days (ends of 06-01..12-20) x 0.00013
    #   = 0.0831763 -> 0.08
    assert (row["arrears_days"], str(row["overdue_interest"]), str(row["penalty_accrued"])) == (
        366, "3.17", "0.08")


def test_a_cured_default_leaves_the_list_but_not_the_past(db, defaulter, set_today):
    loan = defaulter()
    past = listed(db, "2024-12-20")
    assert loan.id in past
    set_today("2025-01-10")
    pay(db, loan, "2025-01-10", "100.00")  # everything billed and the penalty
    assert loan.id not in listed(db, "2025-01-10")
    assert listed(db, "2024-12-20") == past
    assert delinquency(db, loan, "2025-01-10")["bucket"] is None
