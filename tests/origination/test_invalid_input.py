"""Refused origination requests: a 4xx in the one error shape, and nothing written."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.auth.models import Role
from app.models import Base
from tests import factories
from tests.origination.conftest import application_body, citizen_id


def _counts(db) -> dict[str, int]:
    db.expire_all()
    return {name: db.scalar(sa.select(sa.func.count()).select_from(table))
            for name, table in Base.metadata.tables.items() if name != "audit_log"}


def _refused(flow, db, method, path, headers, body, status, code, field=None):
    before = _counts(db)
    error = flow.call(method, path, headers, status, body)["error"]
    assert error["code"] == code, error
    if field is not None:
        assert error["field"] == field, error
    assert error["message"]
    assert _counts(db) == before


@pytest.mark.parametrize(("changes", "code", "field"), [
    ({"student": {"id_number": "11010519491231002Y"}}, "validation_error", "student.id_number"),
    ({"student": {"id_number": "1101051949123100"}}, "validation_error", "student.id_number"),
    ({"student": {"category": "secondary_vocational"}}, "ineligible", "student.category"),
    ({"student": {"full_time": False}}, "ineligible", "student.full_time"),
    ({"years": [{"academic_year": "2025-2026", "amount": "6000.01"}]}, "over_cap",
     "years.0.amount"),
    ({"years": [{"academic_year": "2025-2026", "amount": "6000.00"},
                {"academic_year": "2027-2028", "amount": "5000.00"}]}, "outside_study",
     "years.1.academic_year"),
    ({"academic_year": "2026-2027"}, "invalid_input", "academic_year"),
    ({"years": [{"academic_year": "2025-2026", "amount": 6000.5}]}, "validation_error",
     "years.0.amount"),
])
def test_application_refused(flow, db, changes, code, field):
    _refused(flow, db, "POST", "/applications", flow.w.uni, application_body(**changes),
             422, code, field)


def test_bad_check_digit_is_named(flow, db):
    good = citizen_id()
    bad = good[:-1] + ("1" if good[-1] != "1" else "2")
    before = _counts(db)
    error = flow.apply(422, student={"id_number": bad})["error"]
    assert error["field"] == "student.id_number" and "check digit" in error["message"]
    assert _counts(db) == before


def test_second_application_for_the_same_year_refused(flow, db):
    number = citizen_id()
    flow.apply(student={"id_number": number})
    again = application_body(student={"id_number": number})
    _refused(flow, db, "POST", "/applications", flow.w.uni, again, 409, "year_already_applied")


def test_approval_by_another_bank_is_not_found(flow, db):
    flow.quota("2025-2026")
    flow.quota("2026-2027")
    app = flow.apply()
    flow.vet_and_submit(app["id"])
    other_bank = factories.make_bank(db)
    token, _ = factories.make_key(db, Role.bank_operator, other_bank)
    other = {"Authorization": f"Bearer {token}"}
    _refused(flow, db, "POST", f"/applications/{app['id']}/decision", other,
             {"decision": "approved"}, 404, "not_found")
    # A university may not decide either (it sees the application).
    _refused(flow, db, "POST", f"/applications/{app['id']}/decision", flow.w.uni,
             {"decision": "approved"}, 403, "forbidden")
    _refused(flow, db, "POST", f"/applications/{app['id']}/decision", flow.w.bank_h,
             {"decision": "rejected"}, 422, "invalid_input", "reason")


def test_quota_exceeded_and_not_set(flow, db):
    app = flow.apply()
    flow.vet_and_submit(app["id"])
    _refused(flow, db, "POST", f"/applications/{app['id']}/decision", flow.w.bank_h,
             {"decision": "approved"}, 409, "quota_not_set")
    flow.quota("2025-2026")
    flow.quota("2026-2027", actual="5999.99", reason="small")
    _refused(flow, db, "POST", f"/applications/{app['id']}/decision", flow.w.bank_h,
             {"decision": "approved"}, 409, "quota_exceeded")
    quotas = flow.call("GET", "/quotas", flow.w.center_h, 200)
    assert [q["consumed"] for q in quotas] == ["0.00", "0.00"]


def test_disbursement_outside_or_beyond_the_contract(flow, db):
    loan_id = flow.contracted()["loan_id"]
    path = f"/contracts/{loan_id}/disbursements"
    body = {"academic_year": "2027-2028", "amount": "1000.00", "value_date": "2025-09-15"}
    _refused(flow, db, "POST", path, flow.w.bank_h, body, 422, "year_not_in_contract",
             "academic_year")
    body = {"academic_year": "2025-2026", "amount": "6000.01", "value_date": "2025-09-15"}
    _refused(flow, db, "POST", path, flow.w.bank_h, body, 409, "exceeds_contract", "amount")
    flow.disburse(loan_id, "2025-2026", "4000.00", "2025-09-15", bank_txn_id="T1")
    body = {"academic_year": "2025-2026", "amount": "2000.01", "value_date": "2025-09-15"}
    _refused(flow, db, "POST", path, flow.w.bank_h, body, 409, "exceeds_contract", "amount")
    body = {"academic_year": "2025-2026", "amount": "10.00", "value_date": "2025-09-15",
            "bank_txn_id": "T1"}
    _refused(flow, db, "POST", path, flow.w.bank_h, body, 409, "duplicate", "bank_txn_id")
    body = {"academic_year": "2025-2026", "amount": "10.00", "value_date": "2025-09-11"}
    _refused(flow, db, "POST", path, flow.w.bank_h, body, 422, "invalid_input", "value_date")
    body = {"academic_year": "2025-2026", "amount": "10.00", "value_date": "2025-09-16"}
    _refused(flow, db, "POST", path, flow.w.bank_h, body, 422, "future_date")
    _refused(flow, db, "POST", path, flow.w.uni,
             {"academic_year": "2025-2026", "amount": "10.00", "value_date": "2025-09-15"},
             403, "forbidden")
    flow.disburse(loan_id, "2025-2026", "2000.00", "2025-09-15")


def test_disbursement_after_graduation_refused_by_the_engine(flow, db, set_today):
    loan_id = flow.contracted()["loan_id"]
    flow.disburse(loan_id, "2025-2026", "6000.00", "2025-09-15")
    set_today("2026-07-01")
    flow.call("POST", f"/loans/{loan_id}/plan", flow.w.bank_h, 201,
              {"confirmed_on": "2026-06-30", "grace_months": 12, "term_months": 60,
               "frequency": "monthly", "method": "equal_installment"})
    flow.call("POST", f"/loans/{loan_id}/status-events", flow.w.uni, 201,
              {"kind": "withdrawal", "date": "2026-06-30"})
    body = {"academic_year": "2026-2027", "amount": "6000.00", "value_date": "2026-07-01"}
    _refused(flow, db, "POST", f"/contracts/{loan_id}/disbursements", flow.w.bank_h, body,
             409, "refused_by_rules")


def test_quota_adjustments_refused(flow, db):
    quota = flow.quota("2025-2026")
    _refused(flow, db, "POST", "/quotas", flow.w.center_h,
             {"university_id": flow.w.university.id, "academic_year": "2026-2027",
              "actual": "1.00"}, 422, "invalid_input", "reason")
    _refused(flow, db, "POST", "/quotas", flow.w.center_h,
             {"university_id": flow.w.university.id, "academic_year": "2025-2026"},
             409, "duplicate")
    _refused(flow, db, "POST", "/quotas", flow.w.uni,
             {"university_id": flow.w.university.id, "academic_year": "2026-2027"},
             403, "forbidden")
    _refused(flow, db, "PATCH", f"/quotas/{quota['id']}", flow.w.center_h,
             {"actual": "100.00"}, 422, "validation_error", "reason")
    flow.quota("2026-2027")
    app = flow.apply()
    flow.vet_and_submit(app["id"])
    flow.decide(app["id"])
    _refused(flow, db, "PATCH", f"/quotas/{quota['id']}", flow.w.center_h,
             {"actual": "5999.99", "reason": "cut"}, 409, "below_consumed", "actual")
    adjusted = flow.call("PATCH", f"/quotas/{quota['id']}", flow.w.center_h, 200,
                         {"actual": "6000.00", "reason": "cut to what is used"})
    assert (adjusted["actual"], adjusted["remaining"]) == ("6000.00", "0.00")


def test_workflow_order_enforced(flow, db):
    app = flow.apply(materials_complete=False)
    _refused(flow, db, "POST", f"/applications/{app['id']}/vet", flow.w.uni, None, 409,
             "materials_incomplete")
    _refused(flow, db, "POST", "/batches", flow.w.uni, {"application_ids": [app["id"]]},
             409, "wrong_status")
    flow.call("PATCH", f"/applications/{app['id']}", flow.w.uni, 200,
              {"materials_complete": True})
    flow.call("POST", f"/applications/{app['id']}/vet", flow.w.uni, 200)
    _refused(flow, db, "POST", f"/applications/{app['id']}/contract", flow.w.bank_h,
             {"signed_on": "2025-09-12", "annual_rate": "0.0612"}, 404, "not_found")
    _refused(flow, db, "POST", "/batches", flow.w.uni,
             {"application_ids": [app["id"], app["id"]]}, 422, "invalid_input",
             "application_ids")
