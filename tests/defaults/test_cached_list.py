"""The default list read from the nightly job's cached figures equals the
engine's answer (app/defaults/figures.py): on the run's date and on the quiet
days after it, for every caller, to the fen and to the byte of the CSV; the
engine is asked only about stale loans (loans of conftest.py)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.auth.models import Role
from app.auth.principal import Principal
from app.db import make_session_factory
from app.defaults import figures, service
from app.defaults.figures import DefaultFacts
from app.engine.machine import DAY, LoanMachine
from app.engine.scenario import parse_scenario
from app.engine.state import read_state
from app.reference.models import Center
from app.servicing.batch import service_loans
from app.servicing.models import EventKind, Loan
from app.servicing.service import (
    cached_figures,
    engine_events,
    load_events,
    record_event,
    terms_of,
)
from tests.defaults.conftest import contact, pay
from tests.engine.test_snapshot import SCENARIOS, _cuts
from tests.jobs.portfolio import build, record_until
from tests.jobs.test_daily import nightly as run_nightly

ADMIN = Principal.operator("test")


def nightly(db, day: str) -> None:
    """The nightly job's servicing of ``day``: every loan that needs it."""
    service_loans(db, list(db.scalars(sa.select(Loan.id))),
                  through=dt.date.fromisoformat(day), posted_by="test")
    db.flush()
    db.expire_all()


def engine_answer(db, as_of: str) -> dict[int, DefaultFacts]:
    """Each loan's reportable default on ``as_of`` from the engine, loan by loan,
    over its events dated on or before ``as_of`` (the list's rule: a reversal
    dated later does not move a past list)."""
    day = dt.date.fromisoformat(as_of)
    out = {}
    for loan in db.scalars(sa.select(Loan).order_by(Loan.id)):
        terms = terms_of(loan)
        events = [e for e in load_events(db, loan.id) if e.event_date <= day]
        state = read_state(LoanMachine(terms).run(engine_events(events, terms), day), day)
        if state.default_reportable:
            out[loan.id] = DefaultFacts.of(state)
    return out


def listed(db, as_of: str) -> dict[int, DefaultFacts]:
    rows = list(service.default_list(db, ADMIN, as_of=dt.date.fromisoformat(as_of)))
    assert [r.loan_id for r in rows] == sorted(r.loan_id for r in rows)
    return {r.loan_id: r.facts for r in rows}


@pytest.fixture
def asked(monkeypatch) -> list[int]:
    """The loans the list asks the engine about (its fallback), in order."""
    loans: list[int] = []
    real = figures.states_as_of

    def counting(session, rows, as_of):
        loans.extend(r.loan_id for r in rows)
        return real(session, rows, as_of)

    monkeypatch.setattr(figures, "states_as_of", counting)
    return loans


@pytest.fixture
def varied(db, defaulter):
    """Defaulters with different lives (all recorded by 2024-12-20): plain, a
    partial payment, a rate change, a contact that keeps the borrower off the
    list until 2025-01-14, NSL-1999 (finance pays half), one cured."""
    loans = {"plain": defaulter(), "partial": defaulter(), "rate": defaulter(),
             "contact": defaulter(), "old_rules": defaulter(policy_code="NSL-1999"),
             "cured": defaulter()}
    pay(db, loans["partial"], "2024-06-01", "5.00")
    record_event(db, ADMIN, loans["rate"], kind=EventKind.rate_change,
                 event_date=dt.date(2024, 3, 1), data={"annual_rate": "0.0441"})
    contact(db, loans["contact"], "2024-01-15")
    pay(db, loans["cured"], "2024-11-01", "100.00")
    return {name: loan.id for name, loan in loans.items()}


def test_after_the_nightly_run_the_list_is_the_cache_and_equals_the_engine(db, varied, asked):
    nightly(db, "2024-12-20")
    got = listed(db, "2024-12-20")
    assert asked == []
    assert got == engine_answer(db, "2024-12-20")
    assert set(got) == {varied[k] for k in ("plain", "partial", "rate", "old_rules")}
    assert (str(got[varied["plain"]].penalty_accrued), got[varied["plain"]].days_past_due) == (
        "0.38", 366)


def test_quiet_days_after_the_run_grow_from_the_cache(db, varied, asked):
    nightly(db, "2024-12-20")
    nightly(db, "2024-12-21")  # the 2024-12-20 bills turn overdue; next action 2025-12-20
    for as_of in ("2024-12-21", "2025-01-13", "2025-06-30", "2025-12-19"):
        asked.clear()
        got = listed(db, as_of)
        assert got == engine_answer(db, as_of), as_of
        # the contact keeps its borrower off until 2025-01-14 (its next action):
        # the engine is asked about that loan alone, and only after that date
        stale = [varied["contact"]] if as_of >= "2025-01-14" else []
        assert asked == stale, as_of
        assert (varied["contact"] in got) == (as_of >= "2025-01-14")
    # half a year on: two bills overdue (8.00 and 2024's 366 x 0.10 = 36.60); the
    # penalty is 0.38064 of 2024-12-20 plus 192 days x 44.60 x 0.00013 = 1.113216
    plain = listed(db, "2025-06-30")[varied["plain"]]
    assert (plain.days_past_due, plain.arrears_days, str(plain.overdue_interest),
            str(plain.penalty_accrued)) == (558, 558, "44.60", "1.49")


def test_stale_loans_are_asked_of_the_engine_and_only_they(db, varied, asked, set_today,
                                                           make_loan):
    make_loan()  # signed, never disbursed: no events, never asked about
    set_today("2024-12-21")
    nightly(db, "2024-12-21")
    # a past date: every loan was serviced after it
    assert listed(db, "2024-12-20") == engine_answer(db, "2024-12-20")
    assert set(asked) >= {varied[k] for k in ("plain", "partial", "rate", "old_rules")}
    # a payment recorded and not serviced yet (a bank file): that loan alone
    record_event(db, ADMIN, db.get(Loan, varied["plain"]), kind=EventKind.payment,
                 event_date=dt.date(2024, 12, 21), amount=Decimal("50.00"), service=False)
    # loans serviced before the cache held the penalty (the migration): the
    # engine states a defaulter's penalty; the others need none
    db.execute(sa.update(Loan).where(Loan.id.in_([varied["rate"], varied["cured"]]))
               .values(acc_penalty=None, acc_penalty_per_day=None))
    db.expire_all()
    asked.clear()
    assert listed(db, "2025-01-10") == engine_answer(db, "2025-01-10")
    assert sorted(asked) == sorted([varied["plain"], varied["rate"]])
    assert varied["plain"] not in listed(db, "2025-01-10")  # the payment cured it


def test_the_cached_csv_is_the_engine_csv_for_every_caller(client, db, two_sides, auth_headers,
                                                           monkeypatch, asked):
    world, loans = two_sides
    nightly(db, "2024-12-20")
    callers = {role: world.keys[role] for role in
               ("center_staff", "bank_operator", "university_officer", "admin")}
    callers["provincial"] = auth_headers(Role.center_staff, db.get(Center, world.ids["cB"]))
    url = "/v1/default-list?as_of=2024-12-20"

    def answers() -> dict[str, tuple[bytes, dict]]:
        out = {}
        for name, headers in callers.items():
            csv = client.get(f"{url}&format=csv", headers=headers)
            page = client.get(url, headers=headers)
            assert csv.status_code == page.status_code == 200, (name, csv.text)
            out[name] = (csv.content, page.json())
        return out

    cached = answers()
    assert asked == []
    ids = {name: {i["loan_id"] for i in page["items"]} for name, (_, page) in cached.items()}
    assert ids["center_staff"] == {loans["A"].id, loans["A2"].id}
    assert ids["bank_operator"] == ids["university_officer"] - {loans["A2"].id} == {
        loans["A"].id}
    assert ids["provincial"] == {loans["B"].id}
    assert cached["center_staff"][0].decode("utf-8-sig").splitlines()[-1] == (
        "合计 Total,2,,,,,,,,0.00,16.00,0.76,16.76,2000.00")
    monkeypatch.setattr(figures, "cache_current", lambda as_of: sa.false())
    assert answers() == cached
    assert asked  # that time the engine answered


def test_a_snapshot_is_taken_from_the_cache_and_read_when_the_cache_moved_on(db, varied, asked):
    nightly(db, "2024-12-20")
    engine = engine_answer(db, "2024-12-20")
    assert service.take_default_snapshot(db, business_date=dt.date(2024, 12, 20)) == len(engine)
    assert asked == []
    nightly(db, "2024-12-21")  # every loan's cache now describes a later date
    assert listed(db, "2024-12-20") == engine
    assert asked == []  # read from the snapshot


def test_after_each_nightly_run_of_a_season_the_list_is_the_engines(db, connection, asked,
                                                                    set_today):
    """The portfolio of the job tests (late, partial and missing payments, payments
    reported days late, reversals, contacts, rate changes) through the real job:
    on every eighth date, after the job and the day's events, the lists as of
    that date, 20 days before and 10 days ahead are the engine's; the cache
    answers some rows, the engine (stale loans) others."""
    factory = make_session_factory(connection, join_transaction_mode="create_savepoint")
    start, end = dt.date(2027, 1, 1), dt.date(2027, 12, 31)
    stories = build(db, 30, start=start, end=end)
    record_until(db, stories, start - DAY)
    day, from_cache, from_engine = start, 0, 0
    while day <= dt.date(2027, 4, 30):
        run_nightly(db, factory, stories, day, day)
        if day.day % 8 == 0:
            db.expire_all()
            # the run's date, a past date, a date the job has not reached yet
            for as_of in (day, day - 20 * DAY, day + 10 * DAY):
                asked.clear()
                got = listed(db, as_of.isoformat())
                want = engine_answer(db, as_of.isoformat())
                assert got == want, (day, as_of)
                from_engine += len(set(got) & set(asked))
                from_cache += len(set(got) - set(asked))
        day += DAY
    assert from_cache > 0 and from_engine > 0


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name.split(".")[0])
def test_cached_figures_grown_over_quiet_days_are_the_engines(path: Path) -> None:
    """What ``DefaultFacts.cached`` makes of ``cached_figures`` on each day before
    the next action equals the engine's state read that day."""
    terms, events, as_of = parse_scenario(json.loads(path.read_text()))
    for cut in _cuts(min(e.date for e in events), as_of, step=29):
        machine = LoanMachine(terms).run(events, cut)
        cached = SimpleNamespace(**cached_figures(machine, cut))
        if cached.arrears_run_start is None:
            continue
        quiet_until = min([e.date for e in events if e.date > cut] + [as_of + DAY])
        if machine.next_action() is not None:
            quiet_until = min(quiet_until, machine.next_action())
        day = cut
        while day < quiet_until:
            machine.run([], day)
            assert DefaultFacts.cached(cached, day) == DefaultFacts.of(read_state(machine, day))
            day += DAY
