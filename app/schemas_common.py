"""Pydantic building blocks shared by every module's schemas.

* ``RequestModel``: base of request bodies; unknown fields are refused (422).
* ``ResponseModel``: base of responses; built from ORM objects.
* ``Money`` / ``PositiveMoney`` / ``SignedMoney``: yuan as ``Decimal``, given and
  returned as decimal strings with two places ("6000.00"); floats and more
  than two decimals are refused.
* ``Rate``: a fraction 0..1 as a decimal string with at most six decimals.
* ``AcademicYear``: "2024-2025".
* ``Count``: a head count or number of days, 0 .. 2^31-1 (an INTEGER column).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from app.money import fmt, parse_amount

Count = Annotated[int, Field(ge=0, le=2**31 - 1)]


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _decimal_text(value: Any) -> str:
    if isinstance(value, float | bool):
        raise ValueError("must be a decimal string, e.g. \"6000.00\", not a JSON number")
    if not isinstance(value, str | int | Decimal):
        raise ValueError("must be a decimal string")
    return str(value).strip()


def _money_parser(sign: Literal["positive", "non_negative", "any"]) -> Any:
    def parse(value: Any) -> Decimal:
        text = _decimal_text(value)
        negative = text.startswith("-")
        amount = parse_amount(text.removeprefix("-"), allow_zero=sign != "positive")
        if negative and amount != 0:
            if sign != "any":
                raise ValueError("amount must not be negative")
            return -amount
        return amount

    return parse


def _money(sign: Literal["positive", "non_negative", "any"], description: str) -> Any:
    pattern = r"^-?\d+(\.\d{1,2})?$" if sign == "any" else r"^\d+(\.\d{1,2})?$"
    return Annotated[
        Decimal,
        BeforeValidator(_money_parser(sign)),
        PlainSerializer(fmt, return_type=str, when_used="json"),
        WithJsonSchema(
            {"type": "string", "pattern": pattern, "examples": ["6000.00"],
             "description": description}
        ),
    ]


Money = _money("non_negative", "yuan, at most two decimals, not negative")
PositiveMoney = _money("positive", "yuan, at most two decimals, greater than zero")
SignedMoney = _money("any", "yuan, at most two decimals, may be negative")


def _parse_rate(value: Any) -> Decimal:
    text = _decimal_text(value)
    try:
        rate = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a decimal: {text!r}") from None
    if not rate.is_finite() or rate.as_tuple().exponent < -6:  # type: ignore[operator]
        raise ValueError("at most six decimals")
    if not Decimal(0) <= rate <= Decimal(1):
        raise ValueError("must be between 0 and 1")
    return rate.quantize(Decimal("0.000001"))


Rate = Annotated[
    Decimal,
    BeforeValidator(_parse_rate),
    PlainSerializer(lambda r: f"{r:.6f}", return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": r"^[01](\.\d{1,6})?$", "examples": ["0.150000"],
         "description": "fraction between 0 and 1, at most six decimals"}
    ),
]


_ACADEMIC_YEAR = re.compile(r"^(\d{4})-(\d{4})$")


def _parse_academic_year(value: Any) -> str:
    match = _ACADEMIC_YEAR.match(value) if isinstance(value, str) else None
    if not match or int(match[2]) != int(match[1]) + 1:
        raise ValueError('academic year must look like "2024-2025"')
    return value


AcademicYear = Annotated[
    str,
    BeforeValidator(_parse_academic_year),
    WithJsonSchema({"type": "string", "pattern": r"^\d{4}-\d{4}$", "examples": ["2024-2025"]}),
]


class PatchModel(RequestModel):
    """Base of PATCH bodies: every field optional, omitted fields stay unchanged.

    Declare fields with their column's type and ``= None`` as default (e.g.
    ``name: str = None``): an omitted field is left out of ``changes()``, while
    an explicit ``null`` is refused unless the annotation allows ``None``.
    """

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)
