"""A small demo dataset for ``make run`` (``loans seed-demo``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth import service as auth
from app.auth.models import Role
from app.auth.principal import Principal
from app.reference import service as ref
from app.reference.models import Center, CenterLevel, StudentCategory, SubsidySettlement

NATIONAL = "全国学生资助管理中心"

# (name, code, center, staff, {category: full-time count})
_UNIVERSITIES = [
    ("清华大学", "10003", "national", 16000,
     {"undergraduate": 16000, "graduate": 36000}),
    ("武汉大学", "10486", "national", 13000,
     {"undergraduate": 30000, "graduate": 28000, "second_bachelor": 300}),
    ("湖北大学", "10512", "provincial", 2800,
     {"undergraduate": 21000, "graduate": 6000}),
    ("武汉职业技术学院", "10834", "provincial", 900, {"junior_college": 15000}),
]
_YEARS = ["2024-2025", "2025-2026"]


def seed_demo(session: Session) -> list[tuple[str, str, str]] | None:
    """Create the demo data and one API key per role; ``None`` if already seeded.

    Returns (role, organisation, token) for each key.
    """
    if session.scalar(sa.select(Center.id).where(Center.name == NATIONAL)) is not None:
        return None
    operator = Principal.operator("loans seed-demo")
    centers = {
        "national": ref.create_center(
            session, operator, name=NATIONAL, level=CenterLevel.national, province_code=None
        ),
        "provincial": ref.create_center(
            session, operator, name="湖北省学生资助管理中心",
            level=CenterLevel.provincial, province_code="42",
        ),
    }
    icbc = ref.create_bank(session, operator, name="中国工商银行", code="ICBC")
    cdb = ref.create_bank(session, operator, name="国家开发银行", code="CDB")
    for center, bank, days, rate, settlement in [
        (centers["national"], icbc, 20, "0.150000", SubsidySettlement.quarterly),
        (centers["provincial"], cdb, 15, "0.120000", SubsidySettlement.annual),
    ]:
        ref.create_agreement(
            session, operator, center_id=center.id, bank_id=bank.id,
            valid_from=dt.date(2024, 1, 1), valid_to=dt.date(2027, 12, 31),
            approval_deadline_working_days=days, risk_compensation_rate=Decimal(rate),
            subsidy_settlement=settlement,
            rate_rule="LPR of the same term at signing, fixed for the academic year",
        )
    universities = []
    for name, code, center_key, staff, counts in _UNIVERSITIES:
        university = ref.create_university(
            session, operator, name=name, code=code,
            center_id=centers[center_key].id, staff_count=staff,
        )
        universities.append(university)
        for year in _YEARS:
            for category, count in counts.items():
                ref.create_enrolment(
                    session, operator, university_id=university.id, academic_year=year,
                    category=StudentCategory(category), full_time=True, count=count,
                )
    keys = []
    for role, org_name, org_id in [
        (Role.admin, "-", None),
        (Role.center_staff, centers["provincial"].name, centers["provincial"].id),
        (Role.bank_operator, cdb.name, cdb.id),
        (Role.university_officer, universities[2].name, universities[2].id),
    ]:
        user = auth.create_user(
            session, operator, name=f"demo {role.value}", role=role, org_id=org_id
        )
        _key, token = auth.issue_key(session, operator, user=user)
        keys.append((role.value, org_name, token))
    return keys
