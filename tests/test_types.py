"""Column types and JSON types: aware UTC timestamps, exact decimals, money strings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from app.reference.models import Agreement
from app.schemas_common import AcademicYear, Money, PositiveMoney, Rate, SignedMoney


class Amounts(BaseModel):
    money: Money = Decimal(0)
    positive: PositiveMoney = Decimal(1)
    signed: SignedMoney = Decimal(0)
    rate: Rate = Decimal(0)
    year: AcademicYear = "2024-2025"


@pytest.mark.parametrize(
    ("field", "given", "parsed"),
    [
        ("money", "6000", Decimal("6000.00")),
        ("money", "0.1", Decimal("0.10")),
        ("money", 12, Decimal("12.00")),
        ("money", "0", Decimal("0.00")),
        ("positive", "0.01", Decimal("0.01")),
        ("signed", "-12.5", Decimal("-12.50")),
        ("rate", "0.0125", Decimal("0.012500")),
        ("rate", "1", Decimal("1.000000")),
        ("year", "2025-2026", "2025-2026"),
    ],
)
def test_accepted(field: str, given: object, parsed: object) -> None:
    assert getattr(Amounts(**{field: given}), field) == parsed


@pytest.mark.parametrize(
    ("field", "given"),
    [
        ("money", 0.1),
        ("money", "1.005"),
        ("money", "-1"),
        ("money", "abc"),
        ("money", "NaN"),
        ("money", True),
        ("positive", "0"),
        ("signed", "-1.001"),
        ("rate", 0.5),
        ("rate", "1.01"),
        ("rate", "-0.1"),
        ("rate", "0.1234567"),
        ("year", "2025-2025"),
        ("year", "2025/2026"),
        ("year", 2025),
    ],
)
def test_refused(field: str, given: object) -> None:
    with pytest.raises(ValidationError):
        Amounts(**{field: given})


def test_money_serialises_as_two_place_strings() -> None:
    dumped = Amounts(money="5", signed="-0.5", rate="0.15").model_dump(mode="json")
    assert dumped == {
        "money": "5.00", "positive": "1.00", "signed": "-0.50", "rate": "0.150000",
        "year": "2024-2025",
    }
    assert Amounts(money="5").model_dump()["money"] == Decimal("5.00")


def test_decimals_and_timestamps_round_trip(db: Session, make_agreement) -> None:
    agreement = make_agreement(risk_compensation_rate=Decimal("0.123456"))
    db.expire_all()
    row = db.execute(
        sa.select(Agreement.risk_compensation_rate, Agreement.created_at).where(
            Agreement.id == agreement.id
        )
    ).one()
    assert row.risk_compensation_rate == Decimal("0.123456")
    assert isinstance(row.risk_compensation_rate, Decimal)
    assert row.created_at.tzinfo is not None
    assert row.created_at.utcoffset() == dt.timedelta(0)


def test_floats_and_naive_datetimes_are_refused_by_columns(db: Session, make_agreement) -> None:
    agreement = make_agreement()
    agreement.risk_compensation_rate = 0.1  # type: ignore[assignment]
    with pytest.raises(sa.exc.StatementError, match="float"):
        db.flush()
    db.rollback()
    agreement = make_agreement()
    agreement.created_at = dt.datetime(2025, 1, 1)
    with pytest.raises(sa.exc.StatementError, match="naive"):
        db.flush()
