"""Largest-remainder allocation to the fen, and the policy files' risk tiers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.money import allocate_fen
from app.policy import PolicyFileError, get_policy, load_versions

D = Decimal


def test_thirds_add_up_where_rounding_each_does_not():
    # 100.00 / 3 = 33.333…: rounding each gives 99.99; the first part takes the fen.
    assert allocate_fen(D("100.00"), [D(1)] * 3) == [D("33.34"), D("33.33"), D("33.33")]


def test_an_odd_fen_between_two_halves_goes_to_the_first():
    assert allocate_fen(D("0.03"), [D(1), D(1)]) == [D("0.02"), D("0.01")]


def test_refuses_nothing_to_share_by():
    with pytest.raises(ValueError):
        allocate_fen(D("1.00"), [D(0), D(0)])


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**7), min_size=1, max_size=8)
       .filter(any))
def test_parts_always_add_up_and_stay_within_a_fen_of_exact(total_fen, weights):
    total = D(total_fen) / 100
    parts = allocate_fen(total, [D(w) for w in weights])
    assert sum(parts) == total
    for part, w in zip(parts, weights, strict=True):
        assert abs(part - total * D(w) / D(sum(weights))) < D("0.01")


@pytest.mark.parametrize(("rate", "multiplier"), [
    ("0", "1.0"), ("0.0499", "1.0"), ("0.05", "1.2"), ("0.0999", "1.2"), ("0.10", "1.5"),
    ("1", "1.5"),
])
def test_shipped_tiers(rate, multiplier):
    for code in ("NSL-1999", "NSL-2004", "NSL-2015", "NSL-2020"):
        assert get_policy(code).risk_compensation.multiplier(D(rate)) == D(multiplier)


@pytest.mark.parametrize(("tiers", "field"), [
    ('[{ min_default_rate = "0.01", multiplier = "1" }]', "risk_compensation"),
    ('[{ min_default_rate = "0", multiplier = "1" }, { min_default_rate = "0", '
     'multiplier = "2" }]', "risk_compensation"),
    ('[{ min_default_rate = "0", multiplier = "0" }]', "risk_compensation.tiers.0.multiplier"),
    ("[]", "risk_compensation.tiers"),
])
def test_malformed_tiers_name_the_field(tmp_path: Path, tiers, field):
    source = (Path(__file__).resolve().parents[1] / "app/policy/versions/NSL-2004.toml")
    text = source.read_text(encoding="utf-8").split("[risk_compensation]")[0]
    (tmp_path / "NSL-2004.toml").write_text(text + f"[risk_compensation]\ntiers = {tiers}\n",
                                            encoding="utf-8")
    with pytest.raises(PolicyFileError) as err:
        load_versions(tmp_path)
    assert err.value.field == field


def test_the_section_is_optional(tmp_path: Path):
    source = (Path(__file__).resolve().parents[1] / "app/policy/versions/NSL-2004.toml")
    text = source.read_text(encoding="utf-8").split("[risk_compensation]")[0]
    (tmp_path / "NSL-2004.toml").write_text(text, encoding="utf-8")
    assert load_versions(tmp_path)["NSL-2004"].risk_compensation is None
