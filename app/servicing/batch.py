"""Servicing many loans for one business date: the nightly job's batch path.

Same rules, same machine, no replay.  Only loans whose ``next_action_on`` has
come (a due or settlement date, a bill turning overdue, a default turning
reportable) or that a new event made dirty are selected, through indexes, so
an ordinary day reads a few index pages and touches no loan row.  For each
selected loan the machine saved by the last run (``LoanEngineState``) is
resumed and run on to the business date; what it decides from then on (new
bills, claims, allocations of newly recorded payments) is posted in one bulk
``post``; the loan's figures and machine are written back in bulk.  The
loans with no new event, on their due date with their bills paid (most of
a due date's), are run on together over arrays (``app.engine.vector``,
checked against the machine); the others each by the machine.

A loan never serviced (bulk-imported, say) starts from an empty machine the
same way: nothing is booked for it yet.  A loan whose saved machine cannot
simply go on (an event dated on or before the machine's day, a payment
reversal, a forgiveness) is serviced the long way, by ``service_loan``
(replay from the first event and sync the ledger by slot).  Either way the
result is the one ``loans simulate`` gives.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from itertools import repeat
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db import copy_rows, one_of, plain_rows, update_rows
from app.engine import snapshot, vector
from app.engine.events import EventError
from app.engine.machine import Bill, Claim, LoanMachine, Terms
from app.errors import Conflict
from app.ledger.service import NewEntry, post
from app.policy import get_policy
from app.servicing.models import EventKind, Loan, LoanEngineState, LoanEvent
from app.servicing.postings import entries_of
from app.servicing.service import cached_figures, engine_events, service_loan

# Events that need the loan's whole history: a reversal undoes a payment the
# saved machine already applied; a forgiveness pays the payoff quoted from it.
REPLAY_KINDS = (EventKind.payment_reversal, EventKind.forgiveness)


class _Selected(NamedTuple):
    """A loan selected for servicing, with its saved machine (if any)."""

    id: int
    policy_code: str
    annual_rate: Decimal
    penalty_markup: Decimal
    subsidy_settlement: str
    serviced_through: dt.date | None
    dirty_from: dt.date | None
    through: dt.date | None  # the saved machine's day
    machine: str | None

    COLUMNS = (Loan.id, Loan.policy_code, Loan.annual_rate, Loan.penalty_markup,
               Loan.subsidy_settlement, Loan.serviced_through, Loan.dirty_from,
               LoanEngineState.through, LoanEngineState.machine)


@dataclass(frozen=True)
class BatchResult:
    loans: int = 0  # loans serviced
    entries: int = 0  # ledger entries posted
    replayed: int = 0  # of which serviced the long way (replay from the first event)


def needs_servicing(through: dt.date) -> sa.ColumnElement[bool]:
    """Loans the nightly job of ``through`` must touch (both columns indexed)."""
    return sa.or_(Loan.next_action_on <= through, Loan.dirty_from.is_not(None))


def due_ranges(session: Session, *, through: dt.date, size: int,
               also: sa.Select | None = None) -> list[tuple[int, int]]:
    """Consecutive id ranges, each holding ``size`` loans to service (the last fewer):
    those that need it, and those whose ids ``also`` selects (loans with bank
    lines to apply, say, which the chunk marks dirty before servicing)."""
    ids = sa.select(Loan.id.label("id")).where(needs_servicing(through))
    if also is not None:
        ids = sa.union(ids, also)
    wanted = ids.subquery()
    group = ((sa.func.row_number().over(order_by=wanted.c.id) - 1) // size).label("g")
    due = sa.select(wanted.c.id, group).subquery()
    rows = session.execute(
        sa.select(sa.func.min(due.c.id), sa.func.max(due.c.id))
        .group_by(due.c.g).order_by(sa.func.min(due.c.id))
    ).all()
    return [(lo, hi) for lo, hi in rows]


class _Terms:
    """Terms by contract columns: a portfolio has few distinct ones."""

    def __init__(self) -> None:
        self._cache: dict[tuple, Terms] = {}

    def __call__(self, policy: str, rate, markup, settlement: str) -> Terms:
        key = (policy, rate, markup, settlement)
        terms = self._cache.get(key)
        if terms is None:
            terms = self._cache[key] = Terms(get_policy(policy), rate, markup, settlement)
        return terms


def service_range(
    session: Session, *, lo: int, hi: int, through: dt.date, posted_by: str,
    dirty: Mapping[int, dt.date] | None = None,
) -> BatchResult:
    """Service every loan with id in ``[lo, hi]`` that needs it on ``through``.

    ``dirty``: loans of the range with events recorded by the caller's
    transaction, each with its earliest event date, serviced as if their rows
    were marked dirty from it (``apply_pending``'s, without writing each row
    twice).  The loans' rows are locked (PostgreSQL) until the caller's
    transaction ends, so a concurrent event on one of them waits for the chunk.
    """
    return _service(session, Loan.id.between(lo, hi), through=through, posted_by=posted_by,
                    dirty=dirty)


def service_loans(
    session: Session, loan_ids: list[int], *, through: dt.date, posted_by: str
) -> BatchResult:
    """Service the given loans (those that need it) through ``through``, in bulk:
    what ``service_loan`` does for each, without replaying their lives."""
    if not loan_ids:
        return BatchResult()
    return _service(session, one_of(session, Loan.id, loan_ids), through=through,
                    posted_by=posted_by)


def _service(session: Session, which: sa.ColumnElement[bool], *, through: dt.date,
             posted_by: str, dirty: Mapping[int, dt.date] | None = None) -> BatchResult:
    dirty = dirty or {}
    selected = needs_servicing(through)
    if dirty:
        selected = sa.or_(selected, one_of(session, Loan.id, list(dirty)))
    found = plain_rows(session, sa.select(*_Selected.COLUMNS)
                       .outerjoin(LoanEngineState, LoanEngineState.loan_id == Loan.id)
                       .where(which, selected)
                       .order_by(Loan.id)
                       .with_for_update(of=Loan))
    rows = list(map(tuple.__new__, repeat(_Selected), found))
    if not rows:
        return BatchResult()
    dirty_from = {r.id: min(d for d in (r.dirty_from, dirty.get(r.id)) if d is not None)
                  for r in rows if r.dirty_from is not None or r.id in dirty}
    events = _new_events(session, {r.id: r.through for r in rows if r.id in dirty_from})
    terms_of = _Terms()
    run = _Run(through)
    plain: list[tuple[int, Terms, str]] = []  # loans with no new event, for the array step
    replay: list[int] = []
    for r in rows:
        new_events = events.get(r.id, [])
        fresh = r.serviced_through is None  # never serviced: nothing booked, no machine
        since = dirty_from.get(r.id)
        if (not fresh and r.machine is None) or (r.machine is not None and (
                r.through >= through or (since is not None and since <= r.through)
        )) or any(e.kind in REPLAY_KINDS for e in new_events):
            replay.append(r.id)
            continue
        terms = terms_of(r.policy_code, r.annual_rate, r.penalty_markup, r.subsidy_settlement)
        if fresh:
            run.machine(r.id, LoanMachine(terms), new_events, saved=False)
        elif new_events:
            run.machine(r.id, snapshot.load(terms, r.machine), new_events, saved=True)
        else:
            plain.append((r.id, terms, r.machine))
    stepped = vector.step([(terms, text) for _, terms, text in plain], through)
    for (loan_id, terms, text), got in zip(plain, stepped, strict=True):
        if got is None:
            run.machine(loan_id, snapshot.load(terms, text), [], saved=True)
        else:
            run.stepped(loan_id, got)
    post(session, run.entries, posted_by=posted_by, new=True)
    update_rows(session, Loan.__table__, "id", run.loan_updates, plain=True)  # the engine's
    update_rows(session, LoanEngineState.__table__, "loan_id", run.state_updates)
    copy_rows(session, LoanEngineState.__table__, ("loan_id", "through", "machine"),
              [(r["loan_id"], r["through"], r["machine"]) for r in run.state_inserts])
    for loan_id in replay:
        loan = session.get_one(Loan, loan_id)
        service_loan(session, loan, through=max(through, loan.serviced_through or through),
                     posted_by=posted_by)
    session.flush()
    return BatchResult(loans=len(rows), entries=len(run.entries), replayed=len(replay))


class _Run:
    """What a chunk's loans run on to ``through`` decide: their entries, figures
    and saved machines, for the chunk's bulk writes."""

    def __init__(self, through: dt.date) -> None:
        self.through = through
        self.entries: list[NewEntry] = []
        self.loan_updates: list[dict] = []
        self.state_updates: list[dict] = []
        self.state_inserts: list[dict] = []

    def machine(self, loan_id: int, machine: LoanMachine, new_events: list[LoanEvent], *,
                saved: bool) -> None:
        """Run ``machine`` on (``saved``: resumed from the loan's saved machine)."""
        through = self.through
        self.entries += _run_on(loan_id, machine, new_events, through)
        self.loan_updates.append({"id": loan_id, **cached_figures(machine, through)})
        if machine.day is not None:
            state = {"loan_id": loan_id, "through": through, "machine": snapshot.dump(machine)}
            (self.state_updates if saved else self.state_inserts).append(state)

    def stepped(self, loan_id: int, got: vector.Stepped) -> None:
        """A loan the array step ran on to its due date (``app.engine.vector``)."""
        through = self.through
        self.entries += entries_of(
            loan_id, disbursements=(), bills=(Bill(through, got.interest, got.principal),),
            claims=() if got.claim is None else (Claim(through, got.claim),), payments=(),
            version=1)
        self.loan_updates.append({"id": loan_id, **got.figures})
        self.state_updates.append({"loan_id": loan_id, "through": through,
                                   "machine": got.machine})


def _new_events(session: Session, saved: dict[int, dt.date | None]
                ) -> dict[int, list[LoanEvent]]:
    """Events after each dirty loan's saved machine day (``saved``; all of them if it
    has none), by loan."""
    if not saved:
        return {}
    since = {loan_id: day or dt.date.min for loan_id, day in saved.items()}
    found = session.execute(
        sa.select(LoanEvent).where(LoanEvent.loan_id.in_(since))
        .order_by(LoanEvent.loan_id, LoanEvent.event_date, LoanEvent.id)
    ).scalars()
    out: dict[int, list[LoanEvent]] = defaultdict(list)
    for e in found:
        if e.event_date > since[e.loan_id]:
            out[e.loan_id].append(e)
    return out


def _run_on(loan_id: int, machine: LoanMachine, rows: list[LoanEvent],
            through: dt.date) -> list[NewEntry]:
    """Run a resumed machine on; the entries of what it decided on the way."""
    before = (len(machine.disbursements), len(machine.bills), len(machine.claims),
              len(machine.payments))
    try:
        machine.run(engine_events(rows), through)
    except EventError as exc:
        raise Conflict(f"loan {loan_id}: {exc}", code="refused_by_rules") from None
    d, b, c, p = before
    # Slots dated after the saved day are new: their first version.
    return entries_of(loan_id, disbursements=machine.disbursements[d:], bills=machine.bills[b:],
                      claims=machine.claims[c:], payments=machine.payments[p:], version=1)
