"""Money: ``Decimal`` yuan, never a float; rounding happens here and only here.

Amounts are yuan with two decimals (fen).  Intermediate interest is kept
exact (unrounded ``Decimal`` with a wide context) and rounded once, half-up to
the fen, at the points servicing-rules.md §9 names: bills, subsidy claims,
allocations of accrued interest or penalty, instalments, reports.
"""

from __future__ import annotations

import decimal
import math
import re
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

FEN = Decimal("0.01")
ZERO = Decimal("0")
# A money column is NUMERIC(MONEY_DIGITS, MONEY_PLACES) (``app.db.MONEY``, fen):
# every amount it holds is below AMOUNT_LIMIT.
MONEY_DIGITS, MONEY_PLACES = 18, 2
AMOUNT_LIMIT = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES)
_PLAIN = re.compile(r"\d{1,16}(?:\.\d{1,2})?")  # always below the limit

# Exact accumulation: 50 significant digits is far beyond any sum of daily
# interest a national portfolio can reach, so accumulation never loses a fen.
EXACT = decimal.Context(prec=50, rounding=ROUND_HALF_UP)


def round_fen(value: Decimal) -> Decimal:
    """Round half-up to 0.01 yuan: the single rounding helper of the product."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP, context=EXACT)


def parse_amount(text: str | int | Decimal, *, allow_zero: bool = False) -> Decimal:
    """Parse a yuan amount given as a decimal string: at most two decimals.

    Raises ``ValueError`` with a readable reason; callers turn it into their own
    error shape (API 422, file exception line, CLI exit 2).  An amount no money
    column can hold is refused here too, so it never reaches the database (a
    bank file's chunk would fail whole on it, again at every retry).
    """
    if type(text) is str and _PLAIN.fullmatch(text):  # the common case, cheaply (bank files)
        value = Decimal(text)
        if value or allow_zero:
            return value.quantize(FEN)
    if isinstance(text, float):
        raise ValueError("amount must be a decimal string, not a float")
    try:
        value = Decimal(str(text).strip())
    except decimal.InvalidOperation:
        raise ValueError(f"not a decimal amount: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a decimal amount: {text!r}")
    if value.as_tuple().exponent < -2:
        raise ValueError(f"more than two decimals: {text!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"amount must be positive: {text!r}")
    if value >= AMOUNT_LIMIT:
        raise ValueError(f"amount too large (at most {AMOUNT_LIMIT - FEN}): {text!r}")
    return value.quantize(FEN)


def to_fen(value: Decimal) -> int:
    """Yuan (already rounded to the fen) as integer fen, for bulk paths."""
    return int((value * 100).to_integral_value())


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(FEN)


def fmt(value: Decimal) -> str:
    """Decimal string with two places, as every JSON and CSV money field."""
    return str(value.quantize(FEN))


def allocate_fen(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split ``total`` (whole fen, not negative) in proportion to ``weights``, to the fen.

    Largest-remainder (Hamilton) allocation: each part gets the floor of its
    exact share in fen, and the fen left over go one each to the parts with
    the largest remainders (ties to the earlier part), so the parts always
    add up to ``total`` exactly — which rounding each share half-up does not.
    Shares are computed as exact fractions, never rounded in between.
    """
    total_fen = to_fen(total)
    if total_fen < 0 or any(w < 0 for w in weights) or not sum(weights, ZERO) > 0:
        raise ValueError("allocate_fen needs a non-negative total and positive total weight")
    weight_sum = sum((Fraction(w) for w in weights), Fraction(0))
    exact = [total_fen * Fraction(w) / weight_sum for w in weights]
    parts = [math.floor(q) for q in exact]
    left = total_fen - sum(parts)
    by_remainder = sorted(range(len(parts)), key=lambda i: (parts[i] - exact[i], i))
    for i in by_remainder[:left]:
        parts[i] += 1
    return [from_fen(p) for p in parts]
