"""Fixtures for stored-loan tests: a loan on a fresh center, university and bank."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app import clock
from app.auth.principal import Principal
from app.servicing import service
from app.servicing.models import Loan

_seq = itertools.count(1)


@pytest.fixture
def set_today() -> Iterator[Callable[[str | dt.date], None]]:
    """``set_today("2027-06-30")`` pins the business date for the test."""

    def pin(day: str | dt.date) -> None:
        clock.set_today(dt.date.fromisoformat(day) if isinstance(day, str) else day)

    yield pin
    clock.set_today(None)


@pytest.fixture
def make_loan(db: Session, make_agreement: Callable[..., Any]) -> Callable[..., Loan]:
    def make(**kw: Any) -> Loan:
        agreement = kw.pop("agreement", None) or make_agreement()
        university = kw.pop("university", None)
        if university is None:
            from tests import factories

            university = factories.make_university(db, agreement_center(db, agreement))
        n = next(_seq)
        borrower = service.find_or_create_borrower(
            db, name=kw.pop("borrower_name", f"学生{n}"),
            id_number=kw.pop("id_number", f"11010520000101{n:04d}"[:18]),
        )
        fields = {
            "contract_no": f"NSL-TEST-{n:06d}", "bank_id": agreement.bank_id,
            "university_id": university.id, "center_id": university.center_id,
            "agreement_id": agreement.id, "borrower_id": borrower.id,
            "policy_code": "NSL-2004", "annual_rate": Decimal("0.0612"),
            "penalty_markup": Decimal("0.3"), "subsidy_settlement": "quarterly",
            "signed_on": dt.date(2025, 9, 1),
        } | kw
        return service.open_loan(db, Principal.operator("test"), **fields)

    return make


def agreement_center(db: Session, agreement: Any) -> Any:
    from app.reference.models import Center

    return db.get(Center, agreement.center_id)
