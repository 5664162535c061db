"""A borrower who graduated without a plan and never paid (servicing-rules.md §8).

1000.00 at 3.6% (0.10 a day), NSL-2004, annual settlement (Dec 20): disbursed
2023-09-01, graduated 2023-10-01; the 2023-12-20 bill (80 days x 0.10 =
8.00) is never paid, so the arrears run starts 2023-12-20.  2024 is a leap
year: as of 2024-12-19 the run is 365 days old, as of 2024-12-20 366.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from app.auth.principal import Principal
from app.reference.models import Center, University
from app.servicing.models import EventKind, Loan
from app.servicing.service import record_event
from tests import factories
from tests.world import build_world

OPERATOR = Principal.operator("test")
ID_X = "11010519900307030X"


@pytest.fixture
def defaulter(db, make_loan, set_today) -> Callable[..., Loan]:
    """``defaulter(agreement=None, **loan columns)``: the borrower above, serviced
    through 2024-12-20 (business date left pinned there)."""

    def make(agreement: Any = None, **kw: Any) -> Loan:
        loan = make_loan(agreement, annual_rate=Decimal("0.036"), subsidy_settlement="annual",
                         **kw)
        for day, kind, amount in (("2023-09-01", EventKind.disbursement, Decimal("1000.00")),
                                  ("2023-10-01", EventKind.graduation, None)):
            set_today(day)
            record_event(db, OPERATOR, loan, kind=kind, event_date=dt.date.fromisoformat(day),
                         amount=amount)
        set_today("2024-12-20")
        db.flush()
        return loan

    return make


def contact(db, loan: Loan, day: str, initiated_by: str = "borrower") -> None:
    record_event(db, OPERATOR, loan, kind=EventKind.contact,
                 event_date=dt.date.fromisoformat(day),
                 data={"channel": "phone", "initiated_by": initiated_by})


def pay(db, loan: Loan, day: str, amount: str) -> None:
    record_event(db, OPERATOR, loan, kind=EventKind.payment,
                 event_date=dt.date.fromisoformat(day), amount=Decimal(amount))


@pytest.fixture
def two_sides(db, defaulter):
    """World A/B (tests/world.py) with one defaulter on each side, plus a second
    defaulter on A (ID ending in X) at another bank of center A."""
    world = build_world(db)
    agreement = {side: db.get(factories.Agreement, world.ids[f"ag{side}"]) for side in "AB"}
    loans = {side: defaulter(agreement[side],
                             university=db.get(University, world.ids[f"u{side}"]))
             for side in "AB"}
    center_a = db.get(Center, world.ids["cA"])
    other_bank = factories.make_agreement(db, center_a)
    loans["A2"] = defaulter(other_bank, university=db.get(University, world.ids["uA"]),
                            id_number=ID_X, borrower_name="张三")
    return world, loans
