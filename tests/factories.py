"""Plain factories for reference data and API keys (used through conftest fixtures).

Each takes the session and keyword overrides, writes through the services (so
rows are audited like real ones) as an operator, and flushes.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.auth import service as auth
from app.auth.models import ROLE_ORG, OrgType, Role
from app.auth.principal import Principal
from app.reference import service as ref
from app.reference.models import (
    Agreement,
    Bank,
    Center,
    CenterLevel,
    Enrolment,
    StudentCategory,
    SubsidySettlement,
    University,
)

OPERATOR = Principal.operator("test factory")
_seq = itertools.count(1)


def make_center(session: Session, **kw: Any) -> Center:
    n = next(_seq)
    level = kw.pop("level", CenterLevel.provincial)
    # 50-89: never a code a test names itself (tests use e.g. "32", "99").
    default_province = f"{50 + n % 40:02d}" if level == CenterLevel.provincial else None
    province = kw.pop("province_code", default_province)
    return ref.create_center(
        session, OPERATOR, name=kw.pop("name", f"Center {n}"), level=level,
        province_code=province, **kw,
    )


def make_university(session: Session, center: Center | None = None, **kw: Any) -> University:
    n = next(_seq)
    center = center or make_center(session)
    return ref.create_university(
        session, OPERATOR, name=kw.pop("name", f"University {n}"),
        code=kw.pop("code", f"U{n:05d}"), center_id=center.id, **kw,
    )


def make_bank(session: Session, **kw: Any) -> Bank:
    n = next(_seq)
    return ref.create_bank(
        session, OPERATOR, name=kw.pop("name", f"Bank {n}"), code=kw.pop("code", f"B{n:04d}")
    )


def make_agreement(
    session: Session, center: Center | None = None, bank: Bank | None = None, **kw: Any
) -> Agreement:
    center = center or make_center(session)
    bank = bank or make_bank(session)
    terms: dict[str, Any] = {
        "valid_from": dt.date(2024, 1, 1),
        "valid_to": dt.date(2027, 12, 31),
        "approval_deadline_working_days": 20,
        "risk_compensation_rate": Decimal("0.150000"),
        "subsidy_settlement": SubsidySettlement.quarterly,
        "rate_rule": "LPR at signing",
    } | kw
    return ref.create_agreement(session, OPERATOR, center_id=center.id, bank_id=bank.id, **terms)


def make_enrolment(session: Session, university: University | None = None, **kw: Any) -> Enrolment:
    university = university or make_university(session)
    fields: dict[str, Any] = {
        "academic_year": "2024-2025",
        "category": StudentCategory.undergraduate,
        "full_time": True,
        "count": 1000,
    } | kw
    return ref.create_enrolment(session, OPERATOR, university_id=university.id, **fields)


def make_key(
    session: Session, role: Role | str, org: Center | University | Bank | None = None,
    *, name: str | None = None,
) -> tuple[str, int]:
    """A new user of ``org`` with ``role`` and an API key: (token, user id)."""
    role = Role(role)
    if ROLE_ORG[role] == OrgType.admin:
        assert org is None, "admins belong to no organisation"
    user = auth.create_user(
        session, OPERATOR, name=name or f"{role.value} {next(_seq)}", role=role,
        org_id=org.id if org is not None else None,
    )
    _key, token = auth.issue_key(session, OPERATOR, user=user)
    return token, user.id


def make_id_number(n: int) -> str:
    """A valid 18-character citizen ID number (GB 11643 check digit), distinct for
    ``n`` below 3,000,000 (birth date from ``n % 3000``)."""
    from stdnum.cn import ric

    born = dt.date(2004, 1, 1) + dt.timedelta(days=n % 3000)
    body = f"110105{born:%Y%m%d}{n // 3000 % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # it reads the first 17 of 18 characters


def make_loan(session: Session, agreement: Agreement | None = None, **kw: Any) -> Any:
    """A signed, serviced loan (no events yet) at a university of the agreement's center."""
    from app.reference.models import Center
    from app.servicing import service

    agreement = agreement or make_agreement(session)
    university = kw.pop("university", None) or make_university(
        session, session.get(Center, agreement.center_id))
    n = next(_seq)
    borrower = service.find_or_create_borrower(
        session, name=kw.pop("borrower_name", f"学生{n}"),
        id_number=kw.pop("id_number", make_id_number(n)),
    )
    fields: dict[str, Any] = {
        "contract_no": f"NSL-TEST-{n:06d}", "bank_id": agreement.bank_id,
        "university_id": university.id, "center_id": university.center_id,
        "agreement_id": agreement.id, "borrower_id": borrower.id,
        "policy_code": "NSL-2004", "annual_rate": Decimal("0.0612"),
        "penalty_markup": Decimal("0.3"), "subsidy_settlement": "quarterly",
        "signed_on": dt.date(2025, 9, 1),
    } | kw
    return service.open_loan(session, OPERATOR, **fields)
