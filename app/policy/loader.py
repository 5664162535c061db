"""Load and validate the policy version files in ``versions/``.

A loan keeps the rules of the version it was signed under, so a new national
rule is a new file here, never an ``if`` in the engine.  Files are validated
when loaded: a malformed one stops start-up with the file and field named.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

VERSIONS_DIR = Path(__file__).with_name("versions")

Frequency = Literal["monthly", "quarterly", "annual"]
Method = Literal["equal_installment", "equal_principal"]
Category = Literal["undergraduate", "junior_college", "graduate", "second_bachelor"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Subsidy(_Strict):
    in_school_finance_share: Decimal = Field(ge=0, le=1)
    after_graduation_finance_share: Decimal = Field(ge=0, le=1)


class PlanRules(_Strict):
    grace_months_min: int = Field(ge=0)
    grace_months_max: int = Field(ge=0)
    repayment_term_months_max: int = Field(gt=0)
    total_term_months_max: int | None = Field(default=None, gt=0)
    max_adjustments: int = Field(ge=0)
    adjustment_window_days: int = Field(ge=0)
    frequencies: tuple[Frequency, ...] = Field(min_length=1)
    methods: tuple[Method, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _grace_range(self) -> PlanRules:
        if self.grace_months_min > self.grace_months_max:
            raise ValueError("grace_months_min is greater than grace_months_max")
        return self


class CalendarRules(_Strict):
    due_day: int = Field(ge=1, le=28)
    default_settlement: Frequency


class Limits(_Strict):
    per_year_cap: dict[Category, Decimal]

    @model_validator(mode="after")
    def _all_categories(self) -> Limits:
        missing = set(Category.__args__) - set(self.per_year_cap)
        if missing:
            raise ValueError(f"per_year_cap lacks {', '.join(sorted(missing))}")
        return self


class Quota(_Strict):
    ratio: Decimal = Field(gt=0, le=1)
    amount_per_student: Decimal = Field(gt=0)


class Arrears(_Strict):
    penalty_markup: Decimal = Field(ge=0)
    default_arrears_days: int = Field(gt=0)
    contact_window_days: int = Field(gt=0)


class RiskTier(_Strict):
    """From this default rate of a university's graduates on, its weight multiplier."""

    min_default_rate: Decimal = Field(ge=0, le=1)
    multiplier: Decimal = Field(gt=0)


class RiskCompensation(_Strict):
    """How a university's share of the risk-compensation fund follows its graduates' record.

    ``tiers`` ascend by ``min_default_rate`` from 0, so every rate falls in
    exactly one tier: the last whose minimum it reaches.
    """

    tiers: tuple[RiskTier, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _tiers_cover_from_zero(self) -> RiskCompensation:
        bounds = [t.min_default_rate for t in self.tiers]
        if bounds[0] != 0:
            raise ValueError("the first tier must start at min_default_rate 0")
        if any(a >= b for a, b in zip(bounds, bounds[1:], strict=False)):
            raise ValueError("tiers must ascend strictly by min_default_rate")
        return self

    def multiplier(self, default_rate: Decimal) -> Decimal:
        return [t.multiplier for t in self.tiers if t.min_default_rate <= default_rate][-1]


class PolicyVersion(_Strict):
    code: str = Field(min_length=1)
    title: str
    subsidy: Subsidy
    plan: PlanRules
    calendar: CalendarRules
    limits: Limits
    quota: Quota
    arrears: Arrears
    # Optional so that a version may leave the fund unweighted (multiplier 1).
    risk_compensation: RiskCompensation | None = None

    def finance_share(self, *, in_school: bool) -> Decimal:
        s = self.subsidy
        return s.in_school_finance_share if in_school else s.after_graduation_finance_share


class PolicyFileError(Exception):
    """A policy file that cannot be used; names the file and the field."""

    def __init__(self, path: Path, field: str, message: str):
        self.path, self.field = path, field
        super().__init__(f"policy file {path.name}: {field}: {message}")


def _load_file(path: Path) -> PolicyVersion:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyFileError(path, "(syntax)", str(exc)) from None
    try:
        version = PolicyVersion.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(file)"
        raise PolicyFileError(path, field, first["msg"]) from None
    if version.code != path.stem:
        raise PolicyFileError(path, "code", f"{version.code!r} does not match the file name")
    return version


def load_versions(directory: Path = VERSIONS_DIR) -> dict[str, PolicyVersion]:
    """Every ``*.toml`` in ``directory``, validated; raises ``PolicyFileError``."""
    versions = {}
    for path in sorted(directory.glob("*.toml")):
        version = _load_file(path)
        versions[version.code] = version
    if not versions:
        raise PolicyFileError(directory, "(directory)", "no policy version files")
    return versions


@lru_cache(maxsize=1)
def policies() -> dict[str, PolicyVersion]:
    """The shipped versions, loaded once per process."""
    return load_versions()


def get_policy(code: str) -> PolicyVersion:
    try:
        return policies()[code]
    except KeyError:
        raise KeyError(f"unknown policy version {code!r}") from None


def version_in_force(signed_on: dt.date, schedule: Mapping[str, dt.date]) -> PolicyVersion:
    """The version a contract signed on ``signed_on`` keeps for life.

    ``schedule`` maps version codes to the date from which contracts are
    signed under them (configuration, since each rule's start is decided by
    the State Council, not by this file set).
    """
    in_force = [(start, code) for code, start in schedule.items() if start <= signed_on]
    if not in_force:
        raise LookupError(f"no policy version in force on {signed_on.isoformat()}")
    return get_policy(max(in_force)[1])
