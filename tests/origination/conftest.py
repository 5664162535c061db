"""An origination world: a center with one university, its bank under an
agreement, enrolment for two academic years, and API headers per role;
``Flow`` drives an application through the API step by step."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role
from app.reference.models import Agreement, Bank, Center, University
from tests import factories

_seq = itertools.count(1)


def citizen_id(n: int | None = None) -> str:
    """A valid 18-character ID number (birth date varies with ``n``)."""
    # 1,500,000 = 500 × 3000: the same birth date for ``n``, and numbers apart
    # from the factories' own loans (their ``n`` stay far below it)
    return factories.make_id_number(1_500_000 + (next(_seq) if n is None else n))


def application_body(**changes: Any) -> dict[str, Any]:
    """A junior-college student asking 6000 for 2025-2026 and 2026-2027."""
    student = {
        "name": "张三", "id_number": citizen_id(), "category": "junior_college",
        "full_time": True, "enrolled_on": "2024-09-01", "expected_graduation_on": "2027-06-30",
        "phone": "13800000000", "address": "北京市海淀区",
    } | changes.pop("student", {})
    return {
        "student": student, "academic_year": "2025-2026",
        "years": [{"academic_year": "2025-2026", "amount": "6000.00"},
                  {"academic_year": "2026-2027", "amount": "6000.00"}],
        "materials_complete": True,
    } | changes


@dataclass
class World:
    center: Center
    university: University
    bank: Bank
    agreement: Agreement
    uni: dict[str, str]
    bank_h: dict[str, str]
    center_h: dict[str, str]


def build_world(session: Session, **agreement: Any) -> tuple[World, dict[str, str]]:
    """The world and an admin's headers (reference data written as an operator)."""
    center = factories.make_center(session)
    university = factories.make_university(session, center)
    bank = factories.make_bank(session)
    terms = {"valid_from": dt.date(2024, 1, 1), "valid_to": dt.date(2030, 12, 31)} | agreement
    agreement_row = factories.make_agreement(session, center, bank, **terms)
    for year in ("2025-2026", "2026-2027"):
        factories.make_enrolment(session, university, academic_year=year, count=1000)

    def headers(role: Role, org: Any) -> dict[str, str]:
        token, _ = factories.make_key(session, role, org)
        return {"Authorization": f"Bearer {token}"}

    world = World(center, university, bank, agreement_row,
                  headers(Role.university_officer, university), headers(Role.bank_operator, bank),
                  headers(Role.center_staff, center))
    return world, headers(Role.admin, None)


class Flow:
    """The API steps of origination, each asserting its status."""

    def __init__(self, client: TestClient, world: World, set_today: Callable[[str], None]):
        self.client, self.w, self.set_today = client, world, set_today

    def call(self, method: str, path: str, headers: dict[str, str], status: int,
             body: Any = None, **kw: Any) -> Any:
        response = self.client.request(method, f"/v1{path}", json=body, headers=headers, **kw)
        assert response.status_code == status, response.text
        return response.json()

    def quota(self, year: str, status: int = 201, **body: Any) -> dict:
        return self.call("POST", "/quotas", self.w.center_h, status,
                         {"university_id": self.w.university.id, "academic_year": year} | body)

    def apply(self, status: int = 201, **changes: Any) -> dict:
        return self.call("POST", "/applications", self.w.uni, status, application_body(**changes))

    def vet_and_submit(self, *ids: int, submitted_on: str = "2025-09-01") -> dict:
        for id_ in ids:
            self.call("POST", f"/applications/{id_}/vet", self.w.uni, 200)
        return self.call("POST", "/batches", self.w.uni, 201,
                         {"application_ids": list(ids), "submitted_on": submitted_on})

    def decide(self, id_: int, decision: str = "approved", status: int = 201,
               headers: dict[str, str] | None = None, **body: Any) -> dict:
        return self.call("POST", f"/applications/{id_}/decision", headers or self.w.bank_h,
                         status, {"decision": decision} | body)

    def sign(self, id_: int, signed_on: str = "2025-09-12", status: int = 201) -> dict:
        return self.call("POST", f"/applications/{id_}/contract", self.w.bank_h, status,
                         {"signed_on": signed_on, "annual_rate": "0.0612"})

    def disburse(self, loan_id: int, year: str, amount: str, value_date: str,
                 status: int = 201, **body: Any) -> dict:
        return self.call("POST", f"/contracts/{loan_id}/disbursements", self.w.bank_h, status,
                         {"academic_year": year, "amount": amount, "value_date": value_date}
                         | body)

    def contracted(self, signed_on: str = "2025-09-12") -> dict:
        """An application approved and signed (quotas of both years set first)."""
        for year in ("2025-2026", "2026-2027"):
            if not self.call("GET", f"/quotas?academic_year={year}", self.w.center_h, 200):
                self.quota(year)
        app = self.apply()
        self.vet_and_submit(app["id"])
        self.decide(app["id"], decided_on="2025-09-10")
        return self.sign(app["id"], signed_on)


@pytest.fixture
def world(db: Session) -> World:
    return build_world(db)[0]


@pytest.fixture
def flow(client: TestClient, world: World, set_today: Callable[[str], None]) -> Flow:
    set_today("2025-09-15")
    return Flow(client, world, set_today)
