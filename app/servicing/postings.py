"""The ledger entries a loan's engine run decides, and keeping the ledger in step.

Each decision of the engine has a *slot* on its loan: a disbursement event
(``disb:<event id>``), a bill (``bill:<due date>``), a subsidy claim
(``claim:<date>``), a payment event (``pay:<event id>``).  Servicing computes
the entries the engine's current run implies and compares them with the
entries standing in the ledger, slot by slot:

* same legs and date: nothing to do (re-running a date posts nothing);
* different (a backdated payment changed a later bill's interest, say): the
  standing entry is reversed and the new version posted;
* gone (a reversed payment): the standing entry is reversed.

So the ledger always books exactly what the engine decided, and history is
only ever added to.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.engine.machine import Allocation, Bill, Claim, LoanMachine
from app.ledger.models import Account, JournalEntry, JournalLeg
from app.ledger.service import Leg, NewEntry, balanced_legs, post, reversal_of
from app.servicing.receipts import CLEARING


def decided_entries(
    loan_id: int, machine: LoanMachine, *, forgiven: frozenset[int] = frozenset()
) -> list[NewEntry]:
    """Every entry the engine's run implies for the loan, keyed by slot (unversioned)."""
    return entries_of(loan_id, disbursements=machine.disbursements, bills=machine.bills,
                      claims=machine.claims, payments=machine.payments, forgiven=forgiven)


def entries_of(
    loan_id: int,
    *,
    disbursements: Iterable[tuple[int, dt.date, Decimal]],
    bills: Iterable[Bill],
    claims: Iterable[Claim],
    payments: Iterable[Allocation],
    forgiven: frozenset[int] = frozenset(),
    version: int | None = None,
) -> list[NewEntry]:
    """The entries of the given decisions of the engine, keyed by slot (unversioned),
    or each by its ``version``-th decision's key (``versioned``) when given.

    A payment is applied from ``repayments_clearing``, where its receipt put
    it (``app.servicing.receipts``); one whose event is in ``forgiven`` (代偿)
    is paid by the state, from ``forgiveness_fund``.
    """
    entries = []

    def add(slot: str, kind: str, day: dt.date, legs: tuple[Leg, ...]) -> None:
        if legs:
            key = slot if version is None else slot_key(loan_id, slot, version)
            entries.append(NewEntry(key=key, kind=kind, value_date=day, legs=legs,
                                    loan_id=loan_id, slot=slot))

    for ref, day, amount in disbursements:
        add(f"disb:{ref}", "disbursement", day,
            balanced_legs(("principal_unbilled", "bank_cash", amount), loan_id=loan_id))
    for bill in bills:
        add(f"bill:{bill.due.isoformat()}", "bill", bill.due, balanced_legs(
            ("interest_billed", "interest_income", bill.interest),
            ("principal_billed", "principal_unbilled", bill.principal),
            loan_id=loan_id))
    for claim in claims:
        add(f"claim:{claim.date.isoformat()}", "subsidy_claim", claim.date, balanced_legs(
            ("subsidy_receivable", "interest_income", claim.amount), loan_id=loan_id))
    for p in payments:
        state_pays = p.event_index in forgiven
        cash = "forgiveness_fund" if state_pays else CLEARING
        add(f"pay:{p.event_index}", "forgiveness" if state_pays else "payment", p.date,
            balanced_legs(
                (cash, "penalty_income", p.to_penalty),
                (cash, "interest_billed", p.to_interest),
                (cash, "principal_billed", p.to_principal),
                (cash, "interest_income", p.to_accrued_interest),
                (cash, "principal_unbilled", p.to_prepayment),
                (cash, "unapplied_funds", p.to_unapplied),
                loan_id=loan_id))
    return entries


def slot_key(loan_id: int, slot: str, version: int) -> str:
    """The key of a slot's ``version``-th decision: it names both."""
    return f"loan:{loan_id}:{slot}:v{version}"


def versioned(entry: NewEntry, version: int) -> NewEntry:
    """The entry to post for its slot's ``version``-th decision."""
    assert entry.loan_id is not None and entry.slot is not None
    return replace(entry, key=slot_key(entry.loan_id, entry.slot, version))


def _standing(session: Session, loan_id: int) -> tuple[dict[str, tuple], dict[str, int]]:
    """Standing (not reversed) entries of the loan by slot, and versions used per slot."""
    entries = session.execute(
        sa.select(JournalEntry).where(JournalEntry.loan_id == loan_id)
    ).scalars().all()
    reversed_ids = {e.reverses_entry_id for e in entries if e.reverses_entry_id}
    versions: dict[str, int] = defaultdict(int)
    standing = {}
    for e in entries:
        if e.reverses_entry_id is None and e.slot is not None:
            versions[e.slot] += 1
            if e.id not in reversed_ids:
                standing[e.slot] = e
    legs: dict[int, list[Leg]] = defaultdict(list)
    if standing:
        rows = session.execute(
            sa.select(JournalLeg.entry_id, Account.code, JournalLeg.amount, JournalLeg.loan_id)
            .join(Account, Account.id == JournalLeg.account_id)
            .where(JournalLeg.entry_id.in_([e.id for e in standing.values()]))
        ).all()
        for entry_id, code, amount, leg_loan in rows:
            legs[entry_id].append(Leg(code, amount, leg_loan))
    return {slot: (e, tuple(legs[e.id])) for slot, e in standing.items()}, versions


def sync_ledger(session: Session, loan_id: int, decided: list[NewEntry], *, posted_by: str) -> int:
    """Make the loan's standing entries equal ``decided``; returns entries written."""
    standing, versions = _standing(session, loan_id)
    wanted = {e.slot: e for e in decided}
    to_post: list[NewEntry] = []
    for slot in sorted(standing.keys() | wanted.keys()):
        old = standing.get(slot)
        new = wanted.get(slot)
        if old and new:
            entry, legs = old
            same = (tuple(sorted((leg.account, leg.amount) for leg in legs)) == new.signature()
                    and entry.value_date == new.value_date)
            if same:
                continue
        if old:
            to_post.append(reversal_of(old[0], old[1]))
        if new:
            to_post.append(versioned(new, versions[slot] + 1))
    post(session, to_post, posted_by=posted_by)
    return len(to_post)
