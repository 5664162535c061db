"""Generated scoping test: every operation of the OpenAPI schema, every role.

Side A's center staff, bank operator and university officer ask for side B's
resource (``tests/world.py``, extended below with B's loan, payment, user,
key, subsidy statement, risk fund and default report): the answer is 404 (as
if absent) or 403 (visible, but not the role's to change), and for lists, B's
rows are not among the answer.  Then admin makes the same request and must
not get 404 nor a validation error, proving the request reached B's resource.

Request bodies are built from the schema (its examples, else simple values), and
path parameters are filled by name from ``PATH_PARAMS``.  A new operation
needs one line in ``ROUTES``; ``test_every_route_is_declared`` fails until it
has one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import audit
from app.auth.models import User
from app.auth.principal import Principal
from app.bankfiles.models import BankLine
from app.config import get_settings
from app.defaults.models import DefaultReport
from app.main import create_app
from app.reference.models import Bank, Center, University
from app.riskfund.models import FundStatus, RiskFund
from app.servicing.models import EventKind, Loan
from app.servicing.service import record_event
from app.subsidy.models import FinanceLevel, StatementStatus, SubsidyStatement
from tests import factories
from tests.factories import OPERATOR
from tests.origination.conftest import application_body
from tests.world import World, build_world

ROLES = ["center_staff", "bank_operator", "university_officer"]

# Path parameter name -> the world's key of side B's resource.
PATH_PARAMS = {
    "center_id": "cB", "university_id": "uB", "bank_id": "bB", "agreement_id": "agB",
    "enrolment_id": "eB", "user_id": "userB", "prefix": "keyB", "loan_id": "loanB",
    "event_id": "paymentB", "statement_id": "statementB", "fund_id": "fundB",
    "quota_id": "quotaB", "application_id": "applicationB", "batch_id": "batchB",
    "upload_id": "uploadB", "line_id": "lineB",
}


@dataclass(frozen=True)
class Target:
    """Side B's resource named by the path (ids in the body name B's too):
    refused with 404 or 403.  ``body`` overrides fields of the generated body
    that the schema cannot constrain enough (e.g. a positive amount)."""

    body: tuple[tuple[str, Any], ...] = ()
    query: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Listing:
    """A list: B's row (``key`` equal to the world's ``of``) is never in it,
    unless refused outright (403); admin's list has it."""

    key: str
    of: str
    query: tuple[tuple[str, str], ...] = ()
    body: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Report:
    """A report over what the caller may see, filtered on side B (``query``):
    B's rows (``key`` = the world's ``of``) never in it, or 403."""

    key: str
    of: str
    query: tuple[tuple[str, str], ...] = ()
    body: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Unscoped:
    """Not about any organisation's resource (the reason says why)."""

    reason: str


T = Target()
ROUTES: dict[str, Target | Listing | Report | Unscoped] = {
    "GET /v1/me": Unscoped("the caller itself"),
    "GET /v1/users": Listing("id", "userB"),
    "POST /v1/users": T,
    "GET /v1/users/{user_id}": T,
    "POST /v1/users/{user_id}/api-keys": T,
    "POST /v1/api-keys/{prefix}/revoke": T,
    "GET /v1/centers": Listing("id", "cB"),
    "POST /v1/centers": Target(body=(("level", "provincial"), ("province_code", "77"))),
    "GET /v1/centers/{center_id}": T,
    "PATCH /v1/centers/{center_id}": T,
    "DELETE /v1/centers/{center_id}": T,
    "GET /v1/universities": Listing("id", "uB"),
    "POST /v1/universities": T,
    "GET /v1/universities/{university_id}": T,
    "PATCH /v1/universities/{university_id}": T,
    "DELETE /v1/universities/{university_id}": T,
    "GET /v1/universities/{university_id}/enrolment": T,
    "POST /v1/universities/{university_id}/enrolment": T,
    "GET /v1/enrolment/{enrolment_id}": T,
    "PATCH /v1/enrolment/{enrolment_id}": T,
    "DELETE /v1/enrolment/{enrolment_id}": T,
    "GET /v1/banks": Unscoped("banks are public to center staff; scoped by module tests"),
    "POST /v1/banks": T,
    "GET /v1/banks/{bank_id}": Unscoped("center staff may see every bank (tendering)"),
    "PATCH /v1/banks/{bank_id}": T,
    "DELETE /v1/banks/{bank_id}": T,
    "GET /v1/agreements": Listing("id", "agB"),
    "POST /v1/agreements": T,
    "GET /v1/agreements/{agreement_id}": T,
    "PATCH /v1/agreements/{agreement_id}": T,
    "DELETE /v1/agreements/{agreement_id}": T,
    "GET /v1/calendar/working-days": Unscoped("the public working-day calendar"),
    "GET /v1/calendar/years": Unscoped("the public working-day calendar"),
    "PUT /v1/calendar/years/{year}": Unscoped("national: only the national center publishes "
                                               "(tests/test_calendar.py)"),
    "GET /v1/audit": Listing("user_id", "userB"),
    "GET /v1/loans": Listing("id", "loanB", (("bank_id", "bB"),)),
    "GET /v1/loans/{loan_id}": T,
    "GET /v1/loans/{loan_id}/events": T,
    "GET /v1/loans/{loan_id}/schedule": T,
    "GET /v1/loans/{loan_id}/payoff": T,
    "POST /v1/loans/{loan_id}/plan": T,
    "POST /v1/loans/{loan_id}/payments": T,
    "POST /v1/loans/{loan_id}/payments/{event_id}/reversal": T,
    "POST /v1/loans/{loan_id}/contacts": T,
    "GET /v1/loans/{loan_id}/contacts": T,
    "POST /v1/loans/{loan_id}/rate-changes": T,
    "POST /v1/loans/{loan_id}/status-events": T,
    "POST /v1/simulations": Unscoped("a calculation on the request's own figures"),
    "GET /v1/subsidy-statements": Listing("id", "statementB"),
    "GET /v1/subsidy-statements/{statement_id}": T,
    "POST /v1/subsidy-statements/{statement_id}/approve": T,
    "POST /v1/subsidy-statements/{statement_id}/pay": T,
    "GET /v1/loans/{loan_id}/delinquency": T,
    "POST /v1/loans/{loan_id}/default-reports": T,
    "GET /v1/default-reports": Listing("loan_id", "loanB"),
    "GET /v1/default-list": Report("bank_id", "bB", (("bank_id", "bB"),)),
    "GET /v1/publication-list": Unscoped("masked list the center publishes; rows scoped"),
    "POST /v1/default-snapshots": Unscoped("freezes the whole list of a date (admin job)"),
    "POST /v1/loans/{loan_id}/forgiveness": T,
    "GET /v1/reports/aging": Unscoped("aggregate counts over the caller's visible loans"),
    "GET /v1/reports/university-performance": Report("university_id", "uB"),
    "GET /v1/reports/forgiveness": Report("loan_id", "loanB"),
    "GET /v1/monitoring/staff-ratio": Report(
        "university_id", "uB", (("academic_year", "2025-2026"),)),
    "GET /v1/reports/credit": Unscoped("monthly file for the credit bureau; rows scoped"),
    "GET /v1/risk-funds": Listing("id", "fundB"),
    "GET /v1/risk-funds/{fund_id}": T,
    "POST /v1/risk-funds/{fund_id}/confirm": T,
    "POST /v1/risk-funds/{fund_id}/pay": T,
    "POST /v1/quotas": T,
    "GET /v1/quotas": Listing("id", "quotaB"),
    "GET /v1/quotas/{quota_id}": T,
    "PATCH /v1/quotas/{quota_id}": T,
    "POST /v1/applications": Target(
        body=(("student", application_body()["student"]), ("university_id", "@uB"))),
    "GET /v1/applications": Listing("id", "applicationB"),
    "GET /v1/applications/{application_id}": T,
    "PATCH /v1/applications/{application_id}": T,
    "POST /v1/applications/{application_id}/vet": T,
    "POST /v1/applications/{application_id}/decision": T,
    "GET /v1/decisions/overdue": Report("application_id", "applicationB"),
    "POST /v1/batches": Target(body=(("application_ids", ["@applicationB"]),)),
    "GET /v1/batches": Listing("id", "batchB"),
    "GET /v1/batches/{batch_id}": T,
    "POST /v1/applications/{application_id}/contract": T,
    "GET /v1/contracts/{loan_id}": T,
    "POST /v1/contracts/{loan_id}/disbursements": T,
    "POST /v1/contracts/{loan_id}/address-reports": T,
    "GET /v1/contracts/{loan_id}/address-reports": T,
    "GET /v1/address-reports/missing": Report("loan_id", "loanB"),
    "POST /v1/bank-files": Unscoped("an upload is always of the caller's own bank"),
    "GET /v1/bank-files": Listing("id", "uploadB"),
    "GET /v1/bank-files/{upload_id}": T,
    "GET /v1/bank-files/{upload_id}/lines.csv": T,
    "POST /v1/bank-files/{upload_id}/process": T,
    "GET /v1/bank-exceptions": Listing("id", "lineB", (("bank_id", "bB"),)),
    "POST /v1/bank-exceptions/{line_id}/resolve": T,
    "GET /v1/bank-reconciliation": Target(query=(("bank_id", "bB"), ("date", "2025-10-10"))),
    "GET /v1/bank-reconciliation.csv": Target(query=(("bank_id", "bB"), ("date", "2025-10-10"))),
    "GET /v1/jobs": Unscoped("the national job catalogue: center staff and admin only"),
    "GET /v1/jobs/runs": Unscoped("national job runs (no organisation's data); center staff"),
    "GET /v1/jobs/runs/{run_id}": Unscoped("a national job run; center staff and admin"),
    "POST /v1/jobs/runs/{run_id}/retry": Unscoped("operations: admin only"),
    "GET /health": Unscoped("probe"),
    "GET /ready": Unscoped("probe"),
    "GET /metrics": Unscoped("process metrics, no personal data"),
    "POST /bench/bare-insert": Unscoped("loans bench's bare INSERT: only on the bench's server"),
}


@cache
def _schema() -> dict[str, Any]:
    """Every operation that can be mounted, the bench's bare endpoint included."""
    return create_app(get_settings().model_copy(update={"bench_routes": True})).openapi()


@cache
def _operations() -> list[str]:
    return [f"{method.upper()} {path}" for path, ops in _schema()["paths"].items()
            for method in ops]


def test_every_route_is_declared() -> None:
    missing = sorted(set(_operations()) - set(ROUTES))
    assert not missing, (
        "operations without a line in tests/hardening/test_route_scoping.py ROUTES "
        f"(how to ask for another organisation's resource): {missing}"
    )
    stale = sorted(set(ROUTES) - set(_operations()))
    assert not stale, f"ROUTES names operations that no longer exist: {stale}"


def _example(schema: dict[str, Any]) -> Any:
    """A small value valid under ``schema``: its example, else the simplest one."""
    if "$ref" in schema:
        return _example(_schema()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    if "examples" in schema or "example" in schema:
        return schema.get("examples", [schema.get("example")])[0]
    if "const" in schema or "enum" in schema:
        return schema.get("const", (schema.get("enum") or [None])[0])
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf", schema.get("oneOf"))
        return _example(next(o for o in options if o.get("type") != "null"))
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: _example(props[name]) for name in schema.get("required", [])}
    if kind == "string":
        return {"date": "2025-09-10", "date-time": "2025-09-10T00:00:00Z"}.get(
            schema.get("format", ""), "x" * max(schema.get("minLength", 1), 1))
    if kind in ("integer", "number"):
        return max(schema.get("minimum", 1), 1)
    if kind == "array":
        return [_example(schema.get("items", {}))] * schema.get("minItems", 0)
    return True if kind == "boolean" else None


@cache
def _generated_body(operation: str) -> Any:
    """A body the schema accepts (None if the operation takes none)."""
    method, path = operation.split(" ", 1)
    content = _schema()["paths"][path][method.lower()].get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return _example(content["application/json"]["schema"])


def _body(operation: str, spec: Target | Listing | Report, world: World) -> Any:
    body = _generated_body(operation)
    if not isinstance(body, dict):
        return body
    ids = {name: world.ids[key] for name, key in PATH_PARAMS.items() if key in world.ids}

    def resolve(value: Any) -> Any:  # "@loanB": the world's id
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return world.ids[value[1:]] if isinstance(value, str) and value[:1] == "@" else value

    overrides = {k: resolve(v) for k, v in spec.body}
    return {**body, **{k: ids[k] for k in body if k in ids}, **overrides}


def _originate_b(client: TestClient, world: World) -> None:
    """Side B's quota, application, batch and signed, disbursed contract (as admin)."""
    admin, u_b = world.keys["admin"], world.ids["uB"]

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = client.post(f"/v1{path}", json=body, headers=admin)
        assert response.status_code in (200, 201), response.text
        return response.json()

    quota = post("/quotas", {"university_id": u_b, "academic_year": "2025-2026"})
    application = post("/applications", application_body(
        university_id=u_b, years=[{"academic_year": "2025-2026", "amount": "6000.00"}]))
    post(f"/applications/{application['id']}/vet", {})
    batch = post("/batches", {"application_ids": [application["id"]], "submitted_on": "2025-09-01"})
    post(f"/applications/{application['id']}/decision",
         {"decision": "approved", "decided_on": "2025-09-10"})
    contract = post(f"/applications/{application['id']}/contract",
                    {"signed_on": "2025-09-12", "annual_rate": "0.0612"})
    post(f"/contracts/{contract['loan_id']}/disbursements",
         {"academic_year": "2025-2026", "amount": "6000.00", "value_date": "2025-09-15"})
    world.ids |= {"quotaB": quota["id"], "applicationB": application["id"],
                  "batchB": batch["id"], "loanB": contract["loan_id"]}


def _world(db: Session, client: TestClient) -> World:
    world = build_world(db)
    factories.make_enrolment(db, db.get(University, world.ids["uB"]),
                             academic_year="2025-2026", count=1000)
    _originate_b(client, world)
    loan = db.get(Loan, world.ids["loanB"])
    payment = record_event(db, OPERATOR, loan, kind=EventKind.payment,
                           event_date=dt.date(2025, 10, 10), amount=Decimal("100"))
    token, user_id = factories.make_key(db, "center_staff", db.get(Center, world.ids["cB"]))
    statement = SubsidyStatement(
        bank_id=world.ids["bB"], center_id=world.ids["cB"], finance_level=FinanceLevel.provincial,
        settlement_date=dt.date(2025, 12, 20), claims_total=Decimal("1"),
        adjustments_total=Decimal("0"), total=Decimal("1"), status=StatementStatus.issued)
    fund = RiskFund(
        agreement_id=world.ids["agB"], year=2025, rate=Decimal("0.15"), policy_code="NSL-2004",
        disbursed=Decimal("6000"), fund=Decimal("900"), finance_half=Decimal("450"),
        universities_half=Decimal("450"), status=FundStatus.computed,
        computed_on=dt.date(2026, 1, 5))
    report = DefaultReport(
        loan_id=loan.id, reported_on=dt.date(2027, 1, 5), arrears_run_start=dt.date(2025, 10, 1),
        arrears_days=400, days_past_due=400, overdue_principal=Decimal("1"),
        overdue_interest=Decimal("0"), penalty_accrued=Decimal("0"),
        principal_outstanding=Decimal("6000"), reported_by="bank B")
    db.add_all([statement, fund, report])
    db.flush()
    user_b = db.get(User, user_id)
    audit.record(db, Principal.of(user_b), "test", user_b, None, audit.snapshot(user_b))
    world.ids |= {"paymentB": payment.id, "userB": user_id,
                  "statementB": statement.id, "fundB": fund.id, "reportB": report.id}
    world.names["keyB"] = token.split(".")[0]
    _bank_file_b(client, db, world)
    return world


def _bank_file_b(client: TestClient, db: Session, world: World) -> None:
    """Side B's bank file, processed: one line for an unknown contract (an exception)."""
    token, _ = factories.make_key(db, "bank_operator", db.get(Bank, world.ids["bB"]))
    headers = {"Authorization": f"Bearer {token}"}
    csv = ("bank_txn_id,contract_no,id_number,amount,value_date,type,reverses\n"
           "B-SCOPE-1,NSL-NO-SUCH,11010519491231002X,10.00,2025-10-10,REPAY,\n")
    upload = client.post("/v1/bank-files", content=csv.encode(),
                         headers={**headers, "Content-Type": "text/csv"})
    assert upload.status_code == 201, upload.text
    upload_id = upload.json()["id"]
    assert client.post(f"/v1/bank-files/{upload_id}/process", headers=headers).status_code == 200
    line = db.scalars(sa.select(BankLine).where(BankLine.upload_id == upload_id)).one()
    world.ids |= {"uploadB": upload_id, "lineB": line.id}


def _request(client: TestClient, world: World, operation: str, spec: Target | Listing | Report,
             headers: dict[str, str], body: Any):
    method, path = operation.split(" ", 1)
    params = {name: world.names["keyB"] if key == "keyB" else world.ids[key]
              for name, key in PATH_PARAMS.items()}
    query = {name: world.ids.get(value, value) for name, value in spec.query}
    return client.request(method, path.format(**params), params=query, json=body,
                          headers=headers)


def _rows(response) -> list[dict[str, Any]]:
    data = response.json()
    rows = data.get("items", data.get("rows", [])) if isinstance(data, dict) else data
    assert isinstance(rows, list), response.text
    return rows


def _refused(response, spec: Target | Listing | Report) -> bool:
    """404 (absent), 403 (the role may not), or, for B's id given in the body,
    422 ``invalid_input`` naming that field (``get_visible(..., field=)``)."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return False
    error = response.json().get("error", {})
    if (response.status_code, error.get("code")) in ((404, "not_found"), (403, "forbidden")):
        return True
    b_fields = set(PATH_PARAMS) | {k for k, v in spec.body if "@" in str(v)}
    return (response.status_code == 422 and error.get("code") == "invalid_input"
            and error.get("field") in b_fields)


@pytest.mark.parametrize("operation", [op for op in ROUTES
                                       if not isinstance(ROUTES[op], Unscoped)])
def test_other_organisations_resource_is_refused(
    client: TestClient, db: Session, operation: str
) -> None:
    if operation not in _operations():
        pytest.skip("operation no longer exists (test_every_route_is_declared says so)")
    spec = ROUTES[operation]
    world = _world(db, client)
    body = _body(operation, spec, world)
    for role in ROLES:
        response = _request(client, world, operation, spec, world.keys[role], body)
        if isinstance(spec, Listing | Report) and response.status_code == 200:
            leaked = [r for r in _rows(response) if r.get(spec.key) == world.ids[spec.of]]
            assert not leaked, f"{role} sees side B's {spec.of} in {operation}"
        else:
            assert _refused(response, spec), (role, response.status_code, response.text)
    control = _request(client, world, operation, spec, world.keys["admin"], body)
    assert control.status_code != 404, control.text
    assert control.status_code < 500, control.text
    if control.status_code == 422:
        assert control.json()["error"]["code"] != "validation_error", control.text
    if isinstance(spec, Listing):
        assert control.status_code == 200, control.text
        assert any(r.get(spec.key) == world.ids[spec.of] for r in _rows(control)), (
            f"admin's {operation} lacks side B's {spec.of}: the check proves nothing")
