"""Reference data: CRUD through the API, and the helpers later modules use."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.reference import service
from app.reference.models import StudentCategory, University


def test_admin_builds_the_reference_data(client: TestClient, auth_headers) -> None:
    admin = auth_headers("admin")
    center = client.post(
        "/v1/centers", json={"name": "江苏省学生资助管理中心", "level": "provincial",
                             "province_code": "32"}, headers=admin,
    )
    assert center.status_code == 201, center.text
    center_id = center.json()["id"]
    bank = client.post("/v1/banks", json={"name": "中国银行", "code": "BOC"}, headers=admin)
    assert bank.status_code == 201
    agreement = client.post(
        "/v1/agreements",
        json={"center_id": center_id, "bank_id": bank.json()["id"], "valid_from": "2025-01-01",
              "approval_deadline_working_days": 15, "risk_compensation_rate": "0.15",
              "subsidy_settlement": "quarterly", "rate_rule": "LPR"},
        headers=admin,
    )
    assert agreement.status_code == 201, agreement.text
    assert agreement.json()["risk_compensation_rate"] == "0.150000"
    assert agreement.json()["valid_to"] is None
    university = client.post(
        "/v1/universities",
        json={"name": "南京大学", "code": "10284", "center_id": center_id, "staff_count": 5000},
        headers=admin,
    )
    assert university.status_code == 201
    university_id = university.json()["id"]
    enrolment = client.post(
        f"/v1/universities/{university_id}/enrolment",
        json={"academic_year": "2025-2026", "category": "undergraduate", "full_time": True,
              "count": 12000},
        headers=admin,
    )
    assert enrolment.status_code == 201
    listed = client.get(
        f"/v1/universities/{university_id}/enrolment?academic_year=2025-2026", headers=admin
    ).json()
    assert [(e["category"], e["count"]) for e in listed] == [("undergraduate", 12000)]
    patched = client.patch(f"/v1/enrolment/{enrolment.json()['id']}", json={"count": 11000},
                           headers=admin)
    assert patched.json()["count"] == 11000
    renamed = client.patch(f"/v1/centers/{center_id}", json={"name": "Jiangsu"}, headers=admin)
    assert renamed.json()["name"] == "Jiangsu"
    by_center = client.get(f"/v1/universities?center_id={center_id}", headers=admin).json()
    assert [u["code"] for u in by_center] == ["10284"]


def test_center_staff_manage_their_universities(
    client: TestClient, db: Session, make_center, auth_headers
) -> None:
    center = make_center()
    staff = auth_headers("center_staff", center)
    created = client.post(
        "/v1/universities", json={"name": "U", "code": "U-1", "center_id": center.id},
        headers=staff,
    )
    assert created.status_code == 201
    university_id = created.json()["id"]
    assert client.delete(f"/v1/universities/{university_id}", headers=staff).status_code == 204
    assert db.get(University, university_id) is None
    assert client.get(f"/v1/universities/{university_id}", headers=staff).status_code == 404


def test_delete_refused_while_referred_to(
    client: TestClient, make_enrolment, auth_headers
) -> None:
    admin = auth_headers("admin")
    enrolment = make_enrolment()
    path = f"/v1/universities/{enrolment.university_id}"
    response = client.delete(path, headers=admin)
    assert response.status_code == 409
    assert client.get(path, headers=admin).status_code == 200
    assert client.delete(f"/v1/enrolment/{enrolment.id}", headers=admin).status_code == 204
    assert client.delete(path, headers=admin).status_code == 204


def test_eligible_full_time_enrolment(db: Session, make_university, make_enrolment) -> None:
    university = make_university()
    for category, full_time, count in [
        (StudentCategory.undergraduate, True, 1000),
        (StudentCategory.junior_college, True, 300),
        (StudentCategory.graduate, False, 500),
        (StudentCategory.second_bachelor, True, 20),
    ]:
        make_enrolment(university, category=category, full_time=full_time, count=count)
    make_enrolment(university, academic_year="2025-2026", count=7)
    total = service.eligible_full_time_enrolment(
        db, university_id=university.id, academic_year="2024-2025"
    )
    assert total == 1320
    assert service.eligible_full_time_enrolment(
        db, university_id=university.id, academic_year="2030-2031"
    ) == 0


@pytest.mark.parametrize(
    ("on", "expected"),
    [(dt.date(2023, 12, 31), None), (dt.date(2024, 6, 1), "old"),
     (dt.date(2025, 6, 1), "new"), (dt.date(2030, 1, 1), "new")],
)
def test_agreement_in_force(
    db: Session, make_center, make_bank, make_agreement, on: dt.date, expected: str | None
) -> None:
    center, bank = make_center(), make_bank()
    agreements = {
        "old": make_agreement(center, bank, valid_from=dt.date(2024, 1, 1),
                              valid_to=dt.date(2024, 12, 31)),
        "new": make_agreement(center, bank, valid_from=dt.date(2025, 1, 1), valid_to=None),
    }
    found = service.agreement_in_force(db, center_id=center.id, on=on)
    assert (found.id if found else None) == (agreements[expected].id if expected else None)
    other_bank = service.agreement_in_force(db, center_id=center.id, on=on, bank_id=bank.id + 999)
    assert other_bank is None


def test_university_code_is_unique(client: TestClient, db: Session, make_university,
                                   auth_headers) -> None:
    existing = make_university()
    count = db.scalar(sa.select(sa.func.count()).select_from(University))
    response = client.post(
        "/v1/universities",
        json={"name": "Copy", "code": existing.code, "center_id": existing.center_id},
        headers=auth_headers("admin"),
    )
    assert response.status_code == 409
    assert db.scalar(sa.select(sa.func.count()).select_from(University)) == count
