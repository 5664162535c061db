"""Posting to the ledger: the only writer of journal entries.

Callers describe an entry (idempotency key, kind, value date, legs); this
module allocates ids, writes the legs and then the entry row (the database
checks the balance when the entry row arrives), and answers a retry with
the entry already posted under the same key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import now_utc
from app.db import allocate_ids, copy_rows, money_total, one_of
from app.errors import Conflict
from app.ledger.models import Account, JournalEntry, JournalLeg
from app.money import ZERO

ENTRY_ID_SEQUENCE = "journal_entry_id_seq"
LEG_COLUMNS = ("entry_id", "account_id", "loan_id", "amount")
ENTRY_COLUMNS = ("id", "idempotency_key", "kind", "value_date", "loan_id", "slot",
                 "reverses_entry_id", "memo", "posted_by", "posted_at")


@dataclass(frozen=True)
class Leg:
    account: str
    amount: Decimal  # debit > 0, credit < 0
    loan_id: int | None = None


@dataclass(frozen=True)
class NewEntry:
    key: str
    kind: str
    value_date: dt.date
    legs: tuple[Leg, ...]
    loan_id: int | None = None
    slot: str | None = None
    reverses_entry_id: int | None = None
    memo: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    def signature(self) -> tuple:
        return tuple(sorted((leg.account, leg.amount) for leg in self.legs))


def balanced_legs(*pairs: tuple[str, str, Decimal], loan_id: int | None = None) -> tuple[Leg, ...]:
    """Legs from ``(debit account, credit account, amount)`` pairs; zeros left out."""
    legs: list[Leg] = []
    for debit, credit, amount in pairs:
        if amount:
            legs += [Leg(debit, amount, loan_id), Leg(credit, -amount, loan_id)]
    return tuple(legs)


def account_ids(session: Session) -> dict[str, int]:
    return dict(session.execute(sa.select(Account.code, Account.id)).all())


def post(session: Session, entries: Sequence[NewEntry], *, posted_by: str,
         new: bool = False) -> list[int]:
    """Post ``entries`` (in bulk); returns their ids.

    An entry whose key was posted before is not posted again: its first id is
    returned if it books the same legs, and a different one is a conflict.
    ``new`` says the caller's keys cannot have been posted (the batch path's
    slots dated after the saved machine): no lookup, and should one exist
    after all, the unique index refuses the whole statement.
    """
    if not entries:
        return []
    for entry in entries:
        total = sum((leg.amount for leg in entry.legs), ZERO)
        if total != 0 or len(entry.legs) < 2:
            raise ValueError(f"entry {entry.key} does not balance ({total})")
    existing: dict[str, int] = {} if new else dict(
        session.execute(
            sa.select(JournalEntry.idempotency_key, JournalEntry.id).where(
                one_of(session, JournalEntry.idempotency_key, [e.key for e in entries])
            )
        ).all()
    )
    fresh = [e for e in entries if e.key not in existing]
    for entry in entries:
        if entry.key in existing and _legs_of(session, existing[entry.key]) != entry.signature():
            raise Conflict(
                f"journal entry {entry.key} was already posted with other amounts",
                code="idempotency_conflict",
            )
    if fresh:
        accounts = account_ids(session)
        ids = allocate_ids(session, JournalEntry.__table__, len(fresh),
                           sequence=ENTRY_ID_SEQUENCE)
        # Legs first, then the entry rows (the database checks each entry's
        # balance when its row arrives).  COPY on PostgreSQL, of values the
        # driver takes as they are (the amounts are Decimal: a float fails the
        # balance above; the time is aware).
        copy_rows(session, JournalLeg.__table__, LEG_COLUMNS, [
            (entry_id, accounts[leg.account], leg.loan_id, leg.amount)
            for entry_id, entry in zip(ids, fresh, strict=True) for leg in entry.legs
        ], plain=frozenset(LEG_COLUMNS))
        now = now_utc()
        copy_rows(session, JournalEntry.__table__, ENTRY_COLUMNS, [
            (entry_id, e.key, e.kind, e.value_date, e.loan_id, e.slot, e.reverses_entry_id,
             e.memo, posted_by, now)
            for entry_id, e in zip(ids, fresh, strict=True)
        ], plain=frozenset(ENTRY_COLUMNS))
        existing.update({e.key: i for e, i in zip(fresh, ids, strict=True)})
    return [existing[e.key] for e in entries]


def _legs_of(session: Session, entry_id: int) -> tuple:
    rows = session.execute(
        sa.select(Account.code, JournalLeg.amount)
        .join(Account, Account.id == JournalLeg.account_id)
        .where(JournalLeg.entry_id == entry_id)
    ).all()
    return tuple(sorted(rows))


def reversal_of(entry: JournalEntry, legs: Iterable[Leg]) -> NewEntry:
    """The entry that undoes ``entry``: the same legs with opposite signs."""
    return NewEntry(
        key=f"{entry.idempotency_key}:reversal",
        kind="reversal",
        value_date=entry.value_date,
        legs=tuple(Leg(leg.account, -leg.amount, leg.loan_id) for leg in legs),
        loan_id=entry.loan_id,
        slot=entry.slot,
        reverses_entry_id=entry.id,
        memo=f"reverses {entry.kind} {entry.idempotency_key}",
    )


def loan_balances(session: Session, loan_ids: Sequence[int]) -> dict[tuple[int, str], Decimal]:
    """Per loan and account: the sum of its legs (debit positive)."""
    rows = session.execute(
        sa.select(JournalLeg.loan_id, Account.code, money_total(JournalLeg.amount))
        .join(Account, Account.id == JournalLeg.account_id)
        .where(JournalLeg.loan_id.in_(loan_ids))
        .group_by(JournalLeg.loan_id, Account.code)
    ).all()
    return {(loan_id, code): total for loan_id, code, total in rows}
