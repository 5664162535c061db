"""Approval deadlines in working days on China's official calendar, and the
policy version a contract keeps from its signing date."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from app.config import Settings, get_settings
from app.reference import service as ref
from tests.factories import OPERATOR


def _set_deadline(db, flow, days: int) -> None:
    ref.update_agreement(db, OPERATOR, agreement_id=flow.w.agreement.id,
                         changes={"approval_deadline_working_days": days})
    db.flush()


@pytest.mark.parametrize(("days", "deadline"), [
    # Friday 24 January 2025: Sunday 26 January is a make-up workday, 28 January
    # to 4 February the Spring Festival holiday, Saturday 8 February a make-up
    # workday.
    (1, "2025-01-26"),
    (2, "2025-01-27"),
    (3, "2025-02-05"),
    (5, "2025-02-07"),
    (6, "2025-02-08"),
    (7, "2025-02-10"),
])
def test_deadline_across_the_spring_festival(db, flow, set_today, days, deadline):
    _set_deadline(db, flow, days)
    set_today("2025-01-24")
    app = flow.apply()
    batch = flow.vet_and_submit(app["id"], submitted_on="2025-01-24")
    assert (batch["deadline_working_days"], batch["deadline_on"]) == (days, deadline)


def test_decision_on_the_make_up_saturday_is_on_time_and_after_is_late(db, flow, set_today):
    _set_deadline(db, flow, 6)
    set_today("2025-01-24")
    flow.quota("2025-2026")
    flow.quota("2026-2027")
    on_time, late, undecided = (flow.apply() for _ in range(3))
    flow.vet_and_submit(on_time["id"], late["id"], undecided["id"], submitted_on="2025-01-24")

    set_today("2025-02-08")
    assert flow.decide(on_time["id"], decided_on="2025-02-08")["late"] is False
    assert flow.call("GET", "/decisions/overdue", flow.w.center_h, 200) == []
    set_today("2025-02-10")
    refused = flow.decide(late["id"], "rejected", reason="incomplete guarantor")
    assert (refused["late"], refused["deadline_on"]) == (True, "2025-02-08")
    overdue = flow.call("GET", "/decisions/overdue", flow.w.center_h, 200)
    assert [(o["application_id"], o["decided_on"], o["decision"]) for o in overdue] == [
        (late["id"], "2025-02-10", "rejected"), (undecided["id"], None, None)]
    assert overdue[0]["deadline_on"] == "2025-02-08"
    # The bank sees its own breaches; as of the deadline day nothing was late yet.
    assert len(flow.call("GET", "/decisions/overdue", flow.w.bank_h, 200)) == 2
    early = flow.call("GET", "/decisions/overdue?as_of=2025-02-08", flow.w.center_h, 200)
    assert [o["application_id"] for o in early] == [late["id"]]
    # The rejection released the years: the student may apply again.
    assert flow.call("GET", f"/applications/{late['id']}", flow.w.uni, 200)["status"] == (
        "rejected")
    # (In full only to the bank; the university sees it masked.)
    number = flow.call("GET", f"/applications/{late['id']}", flow.w.bank_h, 200)["id_number"]
    flow.apply(student={"id_number": number})


def test_submission_in_a_year_the_calendar_does_not_know(flow, set_today):
    set_today("2028-09-01")
    app = flow.apply(student={"enrolled_on": "2027-09-01", "expected_graduation_on":
                              "2030-06-30"}, academic_year="2028-2029",
                     years=[{"academic_year": "2028-2029", "amount": "6000.00"}])
    flow.call("POST", f"/applications/{app['id']}/vet", flow.w.uni, 200)
    error = flow.call("POST", "/batches", flow.w.uni, 422,
                      {"application_ids": [app["id"]], "submitted_on": "2028-09-01"})["error"]
    assert "2028" in error["message"]
    assert flow.call("GET", f"/applications/{app['id']}", flow.w.uni, 200)["status"] == "vetted"


def test_policy_version_follows_the_configured_effective_date(flow, monkeypatch, set_today):
    monkeypatch.setattr(get_settings(), "policy_schedule",
                        {"NSL-1999": dt.date(1999, 6, 1), "NSL-2004": dt.date(2025, 10, 1)})
    set_today("2025-09-30")
    before = flow.contracted(signed_on="2025-09-30")
    assert (before["policy_code"], before["penalty_markup"]) == ("NSL-1999", "0.300000")
    set_today("2025-10-08")
    after = flow.contracted(signed_on="2025-10-08")
    assert after["policy_code"] == "NSL-2004"
    # Either way the loan is serviced under the version it was signed with.
    loan = flow.call("GET", f"/loans/{before['loan_id']}", flow.w.bank_h, 200)["loan"]
    assert loan["policy_code"] == "NSL-1999"


def test_default_schedule():
    schedule = get_settings().policy_schedule
    assert schedule == {"NSL-1999": dt.date(1999, 6, 1), "NSL-2004": dt.date(2004, 9, 1)}


def test_schedule_of_an_unknown_version_stops_start_up():
    with pytest.raises(ValidationError, match="no policy version file for NSL-2099"):
        Settings(policy_schedule={"NSL-2004": "2004-09-01", "NSL-2099": "2099-09-01"})
    extended = Settings(policy_schedule={"NSL-2004": "2004-09-01", "NSL-2015": "2015-07-01"})
    assert extended.policy_schedule["NSL-2015"] == dt.date(2015, 7, 1)
