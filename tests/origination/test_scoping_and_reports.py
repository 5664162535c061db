"""Who sees what of origination, and the contact address reports after graduation."""

from __future__ import annotations

from app.auth.models import Role
from tests import factories


def _headers(db, role, org):
    token, _ = factories.make_key(db, role, org)
    return {"Authorization": f"Bearer {token}"}


def test_applications_are_scoped(db, flow):
    app = flow.apply()
    other_center = factories.make_center(db)
    other_uni = _headers(db, Role.university_officer, factories.make_university(db))
    other_center_h = _headers(db, Role.center_staff, other_center)
    path = f"/applications/{app['id']}"
    for headers in (other_uni, other_center_h, flow.w.bank_h):  # bank: not submitted yet
        assert flow.call("GET", path, headers, 404)["error"]["code"] == "not_found"
        assert flow.call("GET", "/applications", headers, 200) == []
    assert flow.call("GET", path, flow.w.center_h, 200)["id"] == app["id"]
    batch = flow.vet_and_submit(app["id"])
    assert flow.call("GET", path, flow.w.bank_h, 200)["batch_id"] == batch["id"]
    assert [b["id"] for b in flow.call("GET", "/batches", flow.w.bank_h, 200)] == [batch["id"]]
    assert flow.call("GET", f"/batches/{batch['id']}", other_uni, 404)
    # A university may not submit another university's applications.
    mine = flow.apply()
    flow.call("POST", f"/applications/{mine['id']}/vet", flow.w.uni, 200)
    error = flow.call("POST", "/batches", other_uni, 422,
                      {"application_ids": [mine["id"]]})["error"]
    assert error["field"] == "application_ids"
    filtered = flow.call("GET", "/applications?status=vetted", flow.w.uni, 200)
    assert [a["id"] for a in filtered] == [mine["id"]]


def test_quotas_are_scoped(db, flow):
    quota = flow.quota("2025-2026")
    other_center_h = _headers(db, Role.center_staff, factories.make_center(db))
    assert flow.call("GET", f"/quotas/{quota['id']}", flow.w.uni, 200)["id"] == quota["id"]
    assert flow.call("GET", f"/quotas/{quota['id']}", flow.w.bank_h, 200)["id"] == quota["id"]
    flow.call("GET", f"/quotas/{quota['id']}", other_center_h, 404)
    flow.call("PATCH", f"/quotas/{quota['id']}", other_center_h, 404,
              {"actual": "1.00", "reason": "x"})
    error = flow.call("POST", "/quotas", other_center_h, 422,
                      {"university_id": flow.w.university.id, "academic_year": "2026-2027"})
    assert error["error"]["field"] == "university_id"


def test_address_reports(db, flow, set_today):
    loan_id = flow.contracted()["loan_id"]
    flow.disburse(loan_id, "2025-2026", "6000.00", "2025-09-15")
    reports = f"/contracts/{loan_id}/address-reports"
    body = {"kind": "family", "address": "河北省保定市"}
    assert flow.call("POST", reports, flow.w.uni, 409, body)["error"]["code"] == "not_graduated"

    set_today("2026-06-30")
    flow.call("POST", f"/loans/{loan_id}/plan", flow.w.bank_h, 201,
              {"confirmed_on": "2026-06-30", "grace_months": 24, "term_months": 60,
               "frequency": "annual", "method": "equal_principal"})
    flow.call("POST", f"/loans/{loan_id}/status-events", flow.w.uni, 201,
              {"kind": "graduation", "date": "2026-06-30"})
    set_today("2026-12-01")
    assert flow.call("GET", "/address-reports/missing", flow.w.center_h, 200) == []
    pending = flow.call("GET", "/address-reports/missing?due_only=false", flow.w.center_h, 200)
    assert [(m["loan_id"], m["due_on"], m["overdue"]) for m in pending] == [
        (loan_id, "2027-06-30", False)]
    # The university sees its own list; another center sees nothing.
    assert len(flow.call("GET", "/address-reports/missing?due_only=false", flow.w.uni, 200)) == 1
    other = _headers(db, Role.center_staff, factories.make_center(db))
    assert flow.call("GET", "/address-reports/missing?due_only=false", other, 200) == []

    error = flow.call("POST", reports, flow.w.uni, 422, {"kind": "employment",
                                                         "address": "深圳市"})["error"]
    assert error["field"] == "employer"
    flow.call("POST", reports, flow.w.bank_h, 403, body)
    report = flow.call("POST", reports, flow.w.uni, 201, body)
    assert (report["kind"], report["late"], report["reported_on"]) == ("family", False,
                                                                     "2026-12-01")
    assert [r["id"] for r in flow.call("GET", reports, flow.w.center_h, 200)] == [report["id"]]
    assert flow.call("GET", "/address-reports/missing?due_only=false", flow.w.center_h,
                     200) == []


def test_continued_study_ends_the_wait_for_an_address(db, flow, set_today):
    loan_id = flow.contracted()["loan_id"]
    set_today("2026-06-30")
    flow.call("POST", f"/loans/{loan_id}/plan", flow.w.bank_h, 201,
              {"confirmed_on": "2026-06-30", "grace_months": 24, "term_months": 60,
               "frequency": "annual", "method": "equal_principal"})
    flow.call("POST", f"/loans/{loan_id}/status-events", flow.w.uni, 201,
              {"kind": "graduation", "date": "2026-06-30"})
    set_today("2026-09-01")
    flow.call("POST", f"/loans/{loan_id}/status-events", flow.w.uni, 201,
              {"kind": "continued_study_start", "date": "2026-09-01",
               "proof_reference": "录取通知书 2026-118"})
    missing = flow.call("GET", "/address-reports/missing?due_only=false&as_of=2026-09-01",
                        flow.w.center_h, 200)
    assert missing == []
    before = flow.call("GET", "/address-reports/missing?due_only=false&as_of=2026-08-31",
                       flow.w.center_h, 200)
    assert [m["loan_id"] for m in before] == [loan_id]
