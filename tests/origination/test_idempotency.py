"""``Idempotency-Key`` on the creating POSTs: a retry returns the first response
and creates nothing; the same key with another body is a 409."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.auth.models import Role
from app.idempotency.models import IdempotencyKey
from app.origination.models import Application, Decision, Quota
from app.servicing.models import EventKind, Loan, LoanEvent
from tests import factories
from tests.origination.conftest import application_body


def _count(db, model, *where) -> int:
    db.expire_all()
    return db.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _post(flow, path, headers, body, key):
    return flow.client.post(f"/v1{path}", json=body, headers=headers | {"Idempotency-Key": key})


def test_application_retry_returns_the_first_response(flow, db):
    body = application_body()
    first = _post(flow, "/applications", flow.w.uni, body, "k-1")
    # Same body with its keys in another order: the same request.
    again = _post(flow, "/applications", flow.w.uni, dict(reversed(body.items())), "k-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _count(db, Application) == 1

    other = _post(flow, "/applications", flow.w.uni, application_body(), "k-1")
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"
    assert _count(db, Application) == 1
    # Keys are per caller: a colleague's "k-1" is another key.
    token, _ = factories.make_key(db, Role.university_officer, flow.w.university)
    colleague = {"Authorization": f"Bearer {token}"}
    assert _post(flow, "/applications", colleague, application_body(), "k-1").status_code == 201
    assert _count(db, Application) == 2


def test_refused_request_is_not_stored_and_may_be_retried(flow, db):
    bad = application_body(years=[{"academic_year": "2025-2026", "amount": "7000.00"}])
    assert _post(flow, "/applications", flow.w.uni, bad, "k-2").status_code == 422
    assert _count(db, IdempotencyKey) == 0
    good = _post(flow, "/applications", flow.w.uni, application_body(), "k-2")
    assert good.status_code == 201


def test_decision_contract_and_disbursement_retries(flow, db):
    flow.quota("2025-2026")
    flow.quota("2026-2027")
    app = flow.apply()
    flow.vet_and_submit(app["id"])
    path = f"/applications/{app['id']}/decision"
    body = {"decision": "approved", "decided_on": "2025-09-10"}
    first = _post(flow, path, flow.w.bank_h, body, "d-1")
    again = _post(flow, path, flow.w.bank_h, body, "d-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert _count(db, Decision) == 1
    assert db.scalar(sa.select(sa.func.sum(Quota.consumed))) == 12000

    path = f"/applications/{app['id']}/contract"
    body = {"signed_on": "2025-09-12", "annual_rate": "0.0612"}
    contract = _post(flow, path, flow.w.bank_h, body, "c-1")
    assert _post(flow, path, flow.w.bank_h, body, "c-1").json() == contract.json()
    assert _count(db, Loan) == 1

    loan_id = contract.json()["loan_id"]
    path = f"/contracts/{loan_id}/disbursements"
    body = {"academic_year": "2025-2026", "amount": "3000.00", "value_date": "2025-09-15"}
    for _ in range(3):
        assert _post(flow, path, flow.w.bank_h, body, "p-1").status_code == 201
    assert _count(db, LoanEvent, LoanEvent.kind == EventKind.disbursement) == 1
    # A new key is a new disbursement.
    assert _post(flow, path, flow.w.bank_h, body, "p-2").status_code == 201
    years = flow.call("GET", f"/contracts/{loan_id}", flow.w.bank_h, 200)["years"]
    assert years[0]["disbursed"] == "6000.00"
    changed = _post(flow, path, flow.w.bank_h, body | {"amount": "1.00"}, "p-1")
    assert changed.json()["error"]["code"] == "idempotency_conflict"


def test_keys_past_their_days_are_purged_and_a_late_retry_is_a_new_request(flow, db):
    """The nightly ``idempotency_keys`` job keeps keys ``idempotency_key_days``
    (30) by China's business date, then deletes them with their responses."""
    from jobs.registry import load_jobs

    body = application_body()
    first = _post(flow, "/applications", flow.w.uni, body, "k-old")
    assert _post(flow, "/applications", flow.w.uni, application_body(), "k-new").status_code == 201
    # k-old claimed as 2027-01-01 began in China, k-new as 2027-01-02 began: the
    # purge of 2027-01-31 keeps 30 days back from 2027-01-01 (both), that of
    # 2027-02-01 from 2027-01-02 (k-new only).
    db.execute(sa.update(IdempotencyKey).where(IdempotencyKey.key == "k-old")
               .values(created_at=dt.datetime(2026, 12, 31, 16, 0, tzinfo=dt.UTC)))
    db.execute(sa.update(IdempotencyKey).where(IdempotencyKey.key == "k-new")
               .values(created_at=dt.datetime(2027, 1, 1, 16, 0, tzinfo=dt.UTC)))
    purge = load_jobs()["idempotency_keys"].run
    assert purge(db, dt.date(2027, 1, 31), 0, 0).items == 0
    assert purge(db, dt.date(2027, 2, 1), 0, 0).items == 1
    db.expire_all()
    assert set(db.scalars(sa.select(IdempotencyKey.key))) == {"k-new"}
    assert purge(db, dt.date(2027, 2, 1), 0, 0).items == 0  # the date again: nothing more

    # A late retry is a new request: no replay; the rules themselves refuse a
    # second application of the student for the same years.
    late = _post(flow, "/applications", flow.w.uni, body, "k-old")
    assert late.status_code == 409, late.json()
    assert late.json()["error"]["code"] == "year_already_applied"
    assert _count(db, Application) == 2
    assert first.status_code == 201
