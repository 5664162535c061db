"""Reportable defaults as of a date, in bulk: read from the figures the
nightly job cached where they answer, from the engine only where they cannot.

The default rule (servicing-rules.md §8) is the engine's
(``LoanState.default_reportable``); this module decides, loan by loan, where
the engine's answer for ``as_of`` is read.  Every row is that answer, to the
fen; events dated after ``as_of`` never enter it, so the list of a past date
does not move when later payments are posted.

**From the cache** (set-based, no engine run).  The figures cached on
``Loan`` describe the end of ``serviced_through`` (S).  They are *current*
for ``as_of`` when S ≤ ``as_of``, no event was recorded since (``dirty_from``
is null) and ``next_action_on`` is after ``as_of`` (or none).  Then, by
``LoanMachine.next_action``, the days after S through ``as_of`` change
nothing but the passing of days, so the engine's state on ``as_of`` is the
cached one with its days grown: arrears days = ``as_of`` − run start, days
past due grown by ``as_of`` − S, overdue amounts, principal outstanding and
``default_reportable`` unchanged, the penalty accumulator grown by
``acc_penalty_per_day`` a day and rounded by the engine
(``app.engine.state.penalty_after``).  Once the nightly job of a date has
run, every loan without unserviced events is current for that date: its
list is one streamed query (a server-side cursor on PostgreSQL) and a little
arithmetic per defaulter.  (A reportable loan not serviced since the cache
gained the penalty columns is asked of the engine until its next run.)

**Stale loans** — the cache cannot answer: ``as_of`` before the loan's last
servicing (a past list), events recorded and not yet serviced, or the
nightly job not yet run through ``as_of`` (``next_action_on`` ≤ ``as_of``).
For those loans only, the list falls back, never refuses: to the date's snapshot
(``take_default_snapshot``) when one was taken, except for loans with an
event recorded after it and dated on or before its date; otherwise to the
engine, replaying the events of each candidate.  Candidates are the stale
loans with an event (serviced once, or an event recorded since: a loan with
neither has no events) whose arrears run can have started by
``cutoff = as_of − (threshold + 1)`` (the smallest threshold of any policy
version): when the cache describes a date S with ``cutoff ≤ S ≤ as_of`` and
no event since, a run ongoing on ``as_of`` that began by ``cutoff`` was
ongoing on S too (no event in between could end it), so only loans whose
cached run started by ``cutoff`` can qualify.  The fallback costs one engine
run per stale candidate: a list read before the nightly job of its date has
run, or of a past date without a snapshot, is slower, not different.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.auth.principal import Principal
from app.auth.scope import visible
from app.engine.machine import LoanMachine
from app.engine.state import LoanState, penalty_after, read_state
from app.policy import policies
from app.reference.models import Bank, University
from app.servicing import scope as _scope  # noqa: F401  (registers the loan scope rules)
from app.servicing.models import Borrower, EventKind, Loan, LoanEvent
from app.servicing.service import engine_events, terms_of

CHUNK = 1000  # loans per query of a chunk, rows per fetch of a streamed query


@dataclass(frozen=True)
class Filters:
    university_id: int | None = None
    bank_id: int | None = None
    graduation_year: int | None = None


@dataclass(frozen=True)
class DefaultFacts:
    """A loan's default behaviour as of a date (amounts and days overdue)."""

    arrears_run_start: dt.date
    arrears_days: int
    days_past_due: int
    overdue_principal: Decimal
    overdue_interest: Decimal
    penalty_accrued: Decimal
    principal_outstanding: Decimal

    @classmethod
    def of(cls, state: LoanState) -> DefaultFacts:
        o = state.overdue
        assert state.arrears_run_start is not None
        return cls(state.arrears_run_start, o.arrears_days, o.days_past_due, o.principal,
                   o.interest, o.penalty_accrued, state.principal_outstanding)

    @classmethod
    def cached(cls, row: Any, as_of: dt.date) -> DefaultFacts:
        """From a loan's cached figures (``CACHED`` columns), current for ``as_of``:
        the state of ``serviced_through`` with the quiet days since grown in."""
        days = (as_of - row.serviced_through).days
        return cls(row.arrears_run_start, (as_of - row.arrears_run_start).days,
                   row.days_past_due + days if row.days_past_due else 0,
                   row.overdue_principal, row.overdue_interest,
                   penalty_after(row.acc_penalty, row.acc_penalty_per_day, days),
                   row.principal_outstanding)

    @property
    def overdue_total(self) -> Decimal:
        return self.overdue_principal + self.overdue_interest + self.penalty_accrued


FACT_FIELDS = [f.name for f in fields(DefaultFacts)]
CACHED = (Loan.serviced_through, Loan.arrears_run_start, Loan.days_past_due,
          Loan.overdue_principal, Loan.overdue_interest, Loan.acc_penalty,
          Loan.acc_penalty_per_day, Loan.principal_outstanding)


@dataclass(frozen=True)
class DefaultRow:
    """One line of the default list: who, where, and the default facts."""

    loan_id: int
    contract_no: str
    borrower_name: str
    id_number: str
    university_id: int
    university_name: str
    bank_id: int
    bank_name: str
    center_id: int
    graduated_on: dt.date | None
    facts: DefaultFacts


def graduated_on(as_of: dt.date) -> Any:
    """The date of the loan's latest graduation (or withdrawal) by ``as_of``."""
    return (
        sa.select(sa.func.max(LoanEvent.event_date))
        .where(LoanEvent.loan_id == Loan.id,
               LoanEvent.kind.in_([EventKind.graduation, EventKind.withdrawal]),
               LoanEvent.event_date <= as_of)
        .correlate(Loan).scalar_subquery()
    )


def loans_query(principal: Principal, as_of: dt.date, filters: Filters) -> sa.Select[Any]:
    """The caller's visible loans with who/where columns and the engine's terms."""
    grad = graduated_on(as_of)
    query = (
        sa.select(Loan.id.label("loan_id"), Loan.contract_no,
                  Borrower.name.label("borrower_name"), Borrower.id_number,
                  Loan.university_id, University.name.label("university_name"),
                  Loan.bank_id, Bank.name.label("bank_name"), Loan.center_id,
                  grad.label("graduated_on"), Loan.policy_code, Loan.annual_rate,
                  Loan.penalty_markup, Loan.subsidy_settlement)
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .join(University, University.id == Loan.university_id)
        .join(Bank, Bank.id == Loan.bank_id)
        .where(visible(principal, Loan))
    )
    if filters.university_id is not None:
        query = query.where(Loan.university_id == filters.university_id)
    if filters.bank_id is not None:
        query = query.where(Loan.bank_id == filters.bank_id)
    if filters.graduation_year is not None:
        year = filters.graduation_year
        query = query.where(grad.between(dt.date(year, 1, 1), dt.date(year, 12, 31)))
    return query


def default_cutoff(as_of: dt.date) -> dt.date:
    """The latest arrears-run start that can make a loan reportable on ``as_of``."""
    threshold = min(p.arrears.default_arrears_days for p in policies().values())
    return as_of - dt.timedelta(days=threshold + 1)


def default_candidates(as_of: dt.date) -> ColumnElement[bool]:
    """Stale loans that may be reportable defaults on ``as_of`` (see the module
    doc); loan columns only, so the list's query has no per-loan subquery."""
    cutoff = default_cutoff(as_of)
    cache_describes_window = sa.and_(
        Loan.serviced_through.is_not(None), Loan.serviced_through >= cutoff,
        Loan.serviced_through <= as_of, Loan.dirty_from.is_(None))
    has_events = sa.or_(Loan.serviced_through.is_not(None), Loan.dirty_from.is_not(None))
    return sa.and_(has_events,
                   sa.or_(sa.not_(cache_describes_window), Loan.arrears_run_start <= cutoff))


def cache_current(as_of: dt.date) -> ColumnElement[bool]:
    """Loans whose cached figures answer for ``as_of`` (see the module doc).
    Never NULL, so its negation selects exactly the stale loans."""
    return sa.and_(Loan.serviced_through.is_not(None), Loan.serviced_through <= as_of,
                   Loan.dirty_from.is_(None),
                   sa.or_(Loan.next_action_on.is_(None), Loan.next_action_on > as_of))


def keyset(session: Session, query: sa.Select[Any], chunk: int = CHUNK) -> Iterator[list[Any]]:
    """``query``'s rows in chunks by ascending loan id; each chunk one query, so
    callers may run other queries between chunks."""
    last = None
    while True:
        q = query if last is None else query.where(Loan.id > last)
        rows = session.execute(q.order_by(Loan.id).limit(chunk)).all()
        if not rows:
            return
        yield rows
        last = rows[-1].loan_id


def states_as_of(
    session: Session, rows: list[Any], as_of: dt.date
) -> Iterator[tuple[Any, LoanState]]:
    """The engine's state of each row's loan at the end of ``as_of``.

    ``rows`` carry ``loan_id`` and the terms columns of ``loans_query``; the
    chunk's events are read in one query.
    """
    by_loan: dict[int, list[LoanEvent]] = defaultdict(list)
    events = session.execute(
        sa.select(LoanEvent).where(LoanEvent.loan_id.in_([r.loan_id for r in rows]),
                                   LoanEvent.event_date <= as_of)
        .order_by(LoanEvent.event_date, LoanEvent.id)
    ).scalars()
    for event in events:
        by_loan[event.loan_id].append(event)
    for row in rows:
        terms = terms_of(row)
        machine = LoanMachine(terms).run(engine_events(by_loan[row.loan_id], terms), as_of)
        yield row, read_state(machine, as_of)


def _row(identity: Any, facts: DefaultFacts) -> DefaultRow:
    return DefaultRow(identity.loan_id, identity.contract_no, identity.borrower_name,
                      identity.id_number, identity.university_id, identity.university_name,
                      identity.bank_id, identity.bank_name, identity.center_id,
                      identity.graduated_on, facts)


def _defaults(session: Session, query: sa.Select[Any], as_of: dt.date,
              ask: ColumnElement[bool]) -> Iterator[DefaultRow]:
    """The reportable defaults of ``query`` (a ``loans_query``) on ``as_of``, by
    loan id, in one streamed query: the loans current for ``as_of`` from their
    cached figures (the engine for a reportable one without its penalty
    cached), the stale loans matching ``ask`` from the engine (a chunk's
    events in one more query, while the stream stays open)."""
    current = cache_current(as_of)
    cached = sa.and_(current, Loan.acc_penalty.is_not(None),
                     Loan.acc_penalty_per_day.is_not(None))
    rows = session.execute(
        query.add_columns(*CACHED, cached.label("cached"))
        .where(sa.or_(sa.and_(current, Loan.default_reportable),
                      sa.and_(sa.not_(current), ask)))
        .order_by(Loan.id), execution_options={"yield_per": CHUNK})
    for chunk in rows.partitions():
        uncached = [row for row in chunk if not row.cached]
        states = {row.loan_id: state for row, state in states_as_of(session, uncached, as_of)
                  } if uncached else {}
        for row in chunk:
            state = states.get(row.loan_id)
            if state is None:
                yield _row(row, DefaultFacts.cached(row, as_of))
            elif state.default_reportable:
                yield _row(row, DefaultFacts.of(state))


def live_defaults(session: Session, query: sa.Select[Any], as_of: dt.date
                  ) -> Iterator[DefaultRow]:
    """The reportable defaults of ``query`` (a ``loans_query``) on ``as_of``, by
    loan id: cached figures where current, the engine over the stale candidates."""
    return _defaults(session, query, as_of, default_candidates(as_of))


def default_rows(
    session: Session, principal: Principal, as_of: dt.date, filters: Filters = Filters()
) -> Iterator[DefaultRow]:
    """The reportable defaults the caller may see on ``as_of``, by loan id (see
    the module doc: the cache, then the date's snapshot, then the engine)."""
    from app.defaults.models import DefaultSnapshot, DefaultSnapshotRow

    query = loans_query(principal, as_of, filters)
    snapshot = session.get(DefaultSnapshot, as_of)
    if snapshot is None:
        yield from live_defaults(session, query, as_of)
        return
    restated = sa.select(LoanEvent.loan_id).where(LoanEvent.event_date <= as_of,
                                                  LoanEvent.created_at > snapshot.taken_at)
    frozen_query = (
        query.add_columns(*(getattr(DefaultSnapshotRow, name) for name in FACT_FIELDS))
        .join(DefaultSnapshotRow, sa.and_(DefaultSnapshotRow.loan_id == Loan.id,
                                          DefaultSnapshotRow.business_date == as_of))
        .where(sa.not_(cache_current(as_of)), Loan.id.not_in(restated))
        .order_by(Loan.id)
    )
    frozen = (_row(r, DefaultFacts(*(getattr(r, name) for name in FACT_FIELDS)))
              for r in session.execute(frozen_query, execution_options={"yield_per": CHUNK}))
    yield from heapq.merge(_defaults(session, query, as_of, Loan.id.in_(restated)), frozen,
                           key=lambda r: r.loan_id)


def all_states(session: Session, query: sa.Select[Any], as_of: dt.date
               ) -> Iterable[tuple[Any, LoanState]]:
    """Every loan of ``query`` with its engine state on ``as_of`` (reports)."""
    for rows in keyset(session, query):
        yield from states_as_of(session, rows, as_of)
