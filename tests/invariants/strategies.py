"""Hypothesis strategies: random but valid lives of an NSL-2004 loan."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import strategies as st

DAY = dt.timedelta(days=1)


def _money(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low * 100, high * 100).map(lambda fen: Decimal(fen) / 100)


@st.composite
def loan_lives(draw: st.DrawFn) -> dict:
    """A scenario dict (simulation.md) with disbursements, graduation, a plan,
    payments of any size and date (late, early, partial, over), contacts and
    perhaps a rate change or an adjustment."""
    years = draw(st.integers(1, 3))
    start = dt.date(2024, 9, 1) + draw(st.integers(0, 20)) * DAY
    events: list[dict] = []
    for year in range(years):
        day = start.replace(year=start.year + year)
        events.append({"date": day.isoformat(), "type": "disbursement",
                       "amount": str(draw(_money(500, 6000)))})
    graduation = start.replace(year=start.year + years) - draw(st.integers(10, 90)) * DAY
    events.append({"date": graduation.isoformat(), "type": "graduation"})
    grace = draw(st.integers(12, 24))
    events.append({"date": graduation.isoformat(), "type": "plan", "grace_months": grace,
                   "term_months": draw(st.integers(grace + 12, 72)),
                   "frequency": draw(st.sampled_from(["monthly", "quarterly", "annual"])),
                   "method": draw(st.sampled_from(["equal_installment", "equal_principal"]))})
    dated: list[dict] = []
    for _ in range(draw(st.integers(0, 8))):
        day = graduation + draw(st.integers(0, 6 * 365)) * DAY
        kind = draw(st.sampled_from(["payment", "payment", "payment", "contact", "rate_change"]))
        if kind == "payment":
            dated.append({"date": day.isoformat(), "type": "payment",
                          "amount": str(draw(_money(1, 8000)))})
        elif kind == "contact":
            dated.append({"date": day.isoformat(), "type": "contact"})
        else:
            rate = draw(st.integers(200, 700))
            dated.append({"date": day.isoformat(), "type": "rate_change",
                          "annual_rate": str(Decimal(rate) / 10000)})
    dated.sort(key=lambda e: e["date"])
    as_of = graduation + draw(st.integers(30, 7 * 365)) * DAY
    return {"policy": "NSL-2004", "annual_rate": str(Decimal(draw(st.integers(200, 700))) / 10000),
            "subsidy_settlement": draw(st.sampled_from(["monthly", "quarterly", "annual"])),
            "events": events + dated, "as_of": as_of.isoformat()}
