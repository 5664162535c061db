"""A due date of many loans at once: the nightly job's common step, over arrays.

On a due date nearly every loan the job selects is in repayment with its
bills paid: its saved machine (``app.engine.snapshot``) holds no unpaid
bill and no arrears run, and nothing happens between the saved day and the
due date.  For such a loan, running the machine on to the due
date is a few sums: the stretch's interest on the principal not yet billed,
the settlement date's claim, the bill (its interest, and the instalment's
principal, servicing-rules.md §4–5), and the due date's own day of interest.
``step`` does them for a whole chunk at once, over numpy arrays of exact
integers: amounts in fen, the ×360 accumulators in units of
``10**-(2 + RATE_PLACES + SHARE_PLACES)`` yuan·days, so every sum is the
machine's exact one and every rounding its half-up to the fen.

A loan outside that case (an unpaid bill, a date in between, a value with
more places than the units hold, a due date that bills nothing) gets
``None``: the caller runs it through ``LoanMachine``, which stays the one
statement of the rules.  ``tests/engine/test_vector.py`` checks every step
taken here against the machine's on the scenarios' loans: the same bill,
claim, cached figures and saved machine.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np
import orjson

from app.engine import dates
from app.engine.machine import DAY, PlanDates, Terms, penalty_rate, plan_dates
from app.engine.snapshot import FORMAT
from app.money import EXACT, ZERO

RATE_PLACES = 6  # annual rates, exactly (0.0435 = 43,500 units)
SHARE_PLACES = 2  # the finance's share of interest (0.5 = 50 units)
_ACC_PLACES = 2 + RATE_PLACES + SHARE_PLACES  # fen × rate × share
_FEN_DIVISOR = 360 * 10 ** (RATE_PLACES + SHARE_PLACES)  # accumulator units a fen, ×360
_LIMIT = 2 ** 61  # bound of every intermediate value, well inside int64


class Stepped(NamedTuple):
    """A loan run on to the due date: what the machine would leave and decide."""

    machine: str  # the saved machine at the end of the due date (snapshot text)
    figures: dict[str, Any]  # the loan's cached figures (``cached_figures``)
    interest: Decimal  # the bill's interest and principal
    principal: Decimal
    claim: Decimal | None  # the settlement date's subsidy claim, if any


def _scaled(text: str, places: int) -> int | None:
    """A decimal string as an integer of ``10**-places`` units; None if not exact."""
    whole, _, fraction = text.partition(".")
    if len(fraction) <= places and "E" not in text:
        return int(whole + fraction.ljust(places, "0"))
    value = Decimal(text).scaleb(places)
    return int(value) if value == value.to_integral_value() else None


def _text(units: int, places: int) -> str:
    """An integer of ``10**-places`` units as a decimal string (exact)."""
    digits = str(abs(units)).rjust(places + 1, "0")
    return f"{'-' if units < 0 else ''}{digits[:-places]}.{digits[-places:]}"


def _fen(acc: np.ndarray) -> np.ndarray:
    """``_fen`` of the machine over an array of accumulators: fen, half-up, not below 0."""
    return np.where(acc > 0, (2 * acc + _FEN_DIVISOR) // (2 * _FEN_DIVISOR), 0)


def _clean(raw: dict[str, Any]) -> bool:
    """A saved machine in repayment with nothing unpaid and no arrears run (what
    remains of a penalty paid, if any, stays as it is: nothing overdue adds to it)."""
    return (raw.get("v") == FORMAT and raw["plan"] is not None and raw["run"] is None
            and all(Decimal(i) == Decimal(ip) and Decimal(p) == Decimal(pp)
                    for _, i, p, ip, pp in raw["bills"]))


class _Loans:
    """The loans taken: their saved machines (parsed) and their columns."""

    NAMES = ("pu", "ab", "af", "rate", "share", "days", "inst", "equal", "instalment",
             "last", "settles")

    def __init__(self) -> None:
        self.index: list[int] = []
        self.raw: list[dict[str, Any]] = []
        self.terms: list[Terms] = []
        self.rows: list[tuple] = []  # ``NAMES`` of each

    def arrays(self) -> dict[str, np.ndarray]:
        table = np.array(self.rows, dtype=np.int64)
        return {name: table[:, n] for n, name in enumerate(self.NAMES)}


def step(loans: list[tuple[Terms, str]], through: dt.date) -> list[Stepped | None]:
    """Each saved machine (its terms and snapshot text) run on to ``through``, a
    due date of its plan, when it is a plain step (see the module docstring);
    None for the others."""
    taken = _Loans()
    known = _Known(through)
    for n, (terms, text) in enumerate(loans):
        raw = orjson.loads(text)
        if not _clean(raw):
            continue
        columns = _columns(terms, raw, through, known)
        if columns is None:
            continue
        taken.index.append(n)
        taken.raw.append(raw)
        taken.terms.append(terms)
        taken.rows.append(columns)
    out: list[Stepped | None] = [None] * len(loans)
    if not taken.index:
        return out
    for n, stepped in zip(taken.index, _step(taken, known), strict=True):
        out[n] = stepped
    return out


class _Known:
    """What a chunk's loans share, worked out once: plans' dates (a portfolio
    has few plans), settlement dates, the policies' shares, penalty rates."""

    def __init__(self, through: dt.date) -> None:
        self.through = through
        self.plans: dict[tuple, PlanDates] = {}
        self.settlements: dict[tuple, dt.date] = {}
        self.shares: dict[tuple, int | None] = {}
        self.penalty_rates: dict[tuple, Decimal] = {}
        self.windows: dict[int, str] = {}
        self.decimals: dict[str, Decimal] = {}

    def plan(self, raw: dict[str, Any], due_day: int) -> PlanDates:
        _, _, grace, term, frequency, _, confirmed = raw["plan"]
        key = (frequency, confirmed, raw["grad"], grace, term, due_day)
        plan = self.plans.get(key)
        if plan is None:
            plan = self.plans[key] = plan_dates(
                frequency, due_day, dt.date.fromisoformat(confirmed),
                dt.date.fromisoformat(raw["grad"]), grace, term)
        return plan

    def settlement(self, terms: Terms, day: dt.date) -> dt.date:
        """The first settlement date after ``day``."""
        key = (terms.settlement, terms.policy.calendar.due_day, day)
        found = self.settlements.get(key)
        if found is None:
            found = self.settlements[key] = dates.next_frequency_date(*key)
        return found

    def share(self, terms: Terms, in_school: bool) -> int | None:
        key = (terms.policy.code, in_school)
        if key not in self.shares:
            self.shares[key] = _scaled(str(terms.policy.finance_share(in_school=in_school)),
                                       SHARE_PLACES)
        return self.shares[key]

    def penalty_rate(self, terms: Terms, rate: str) -> Decimal:
        """§6's rate at the loan's current ``rate`` (saved as text)."""
        key = (rate, terms.penalty_markup)
        found = self.penalty_rates.get(key)
        if found is None:
            found = self.penalty_rates[key] = penalty_rate(Decimal(rate), terms.penalty_markup)
        return found

    def contacts_after(self, terms: Terms) -> str:
        """The day before the contact window ending on ``through`` (ISO): the
        contacts after it are kept (``snapshot.dump``)."""
        days = terms.policy.arrears.contact_window_days
        if days not in self.windows:
            self.windows[days] = (self.through - dt.timedelta(days=days)).isoformat()
        return self.windows[days]

    def decimal(self, text: str) -> Decimal:
        """A saved decimal that most loans share (the penalty accumulator's "0")."""
        found = self.decimals.get(text)
        if found is None:
            found = self.decimals[text] = Decimal(text)
        return found


def _columns(terms: Terms, raw: dict[str, Any], through: dt.date, known: _Known
             ) -> tuple | None:
    """The loan's values in ``_Loans.NAMES`` order, or None if the step is not plain."""
    day = dt.date.fromisoformat(raw["day"])
    if through <= day:
        return None
    plan = known.plan(raw, terms.policy.calendar.due_day)
    settlement = known.settlement(terms, day)
    if not plan.is_due(through) or plan.next_due(day) != through or settlement < through:
        return None
    instalment = plan.is_instalment(through)
    inst = 0
    if instalment:
        if raw["inst"] is None:
            return None
        inst = _scaled(raw["inst"], 2)
    values = (_scaled(raw["pu"], 2), _scaled(raw["ab"], _ACC_PLACES),
              _scaled(raw["af"], _ACC_PLACES), _scaled(raw["rate"], RATE_PLACES),
              known.share(terms, raw["school"]))
    if None in values or inst is None or not (
            -_LIMIT < min(values) <= max(values) < _LIMIT and inst < _LIMIT):
        return None
    return (*values, (through - day).days - 1, inst, raw["plan"][5] == "equal_installment",
            instalment, instalment and through == plan.instalment_dates[-1],
            settlement == through)


def _step(taken: _Loans, known: _Known) -> list[Stepped | None]:
    a = taken.arrays()
    pu, ab, af, rate, share = a["pu"], a["ab"], a["af"], a["rate"], a["share"]
    # Every product below is at most pu × rate × (days + 1) × 10**SHARE_PLACES:
    # a loan whose bound is not far inside int64 is left to the machine.
    bound = (pu.astype(np.float64) * rate * (a["days"] + 1) * 10 ** SHARE_PLACES
             + np.abs(ab.astype(np.float64)) + np.abs(af.astype(np.float64)))
    fits = bound < _LIMIT

    def accrue(principal: np.ndarray, days: np.ndarray) -> None:
        """End of day: the stretch's normal interest, split by the policy (§3)."""
        nonlocal ab, af
        raw = principal * rate * days
        finance = raw * share
        ab = ab + raw * 10 ** SHARE_PLACES - finance
        af = af + finance

    accrue(pu, a["days"])
    # Start of the due date: the settlement's claim, then the bill (§4–5).
    claim = np.where(a["settles"] == 1, _fen(af), 0)
    af = np.where(a["settles"] == 1, 0, af)
    interest = _fen(ab)
    ab = np.zeros_like(ab)
    by_method = np.where(a["equal"] == 1, np.maximum(a["inst"] - interest, 0), a["inst"])
    principal = np.where(a["last"] == 1, pu, np.minimum(by_method, pu))
    principal = np.where(a["instalment"] == 1, principal, 0)
    pu = pu - principal
    # The bill is due today, not overdue: its principal accrues with the rest.
    accrue(pu + principal, np.ones_like(pu))
    return [
        _stepped(raw, terms, known, i, p, *values) if ok and (i > 0 or p > 0) else None
        for raw, terms, ok, i, p, *values in zip(
            taken.raw, taken.terms, fits.tolist(), interest.tolist(), principal.tolist(),
            pu.tolist(), ab.tolist(), af.tolist(), claim.tolist(), strict=True)
    ]


def _stepped(raw: dict[str, Any], terms: Terms, known: _Known, interest: int,
             principal: int, pu: int, ab: int, af: int, claim: int) -> Stepped:
    """The saved machine and the figures of a loan whose due date billed."""
    through = known.through
    day = through.isoformat()
    bill = (_text(interest, 2), _text(principal, 2))
    after = known.contacts_after(terms)
    raw.update(day=day, pu=_text(pu, 2), ab=_text(ab, _ACC_PLACES), af=_text(af, _ACC_PLACES),
               run=day, bills=[[day, *bill, "0", "0"]],
               contacts=[c for c in raw["contacts"] if c > after])
    # The bill, unpaid, is what turns overdue tomorrow (``penalty_per_day``).
    per_day = EXACT.multiply(Decimal(_text(interest + principal, 2)),
                             known.penalty_rate(terms, raw["rate"]))
    figures = {
        "serviced_through": through,
        "dirty_from": None,
        "next_action_on": through + DAY,  # the bill turns overdue: the first of the candidates
        "status": "in_school" if raw["school"] else "repaying",
        "principal_outstanding": Decimal(_text(pu + principal, 2)),
        "overdue_principal": ZERO,
        "overdue_interest": ZERO,
        "days_past_due": 0,
        "arrears_run_start": through,
        "default_reportable": False,
        "acc_penalty": known.decimal(raw["ap"]),
        "acc_penalty_per_day": per_day,
    }
    return Stepped(orjson.dumps(raw).decode(), figures, Decimal(bill[0]), Decimal(bill[1]),
                   Decimal(_text(claim, 2)) if claim > 0 else None)
