"""Ledger-wide checks: every entry balances, the trial balance is zero."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db import money_total
from app.ledger.models import JournalEntry, JournalLeg


def unbalanced_entries(session: Session) -> list[tuple[int, Decimal]]:
    """Entries whose legs do not sum to zero (the database should make this empty)."""
    total = money_total(JournalLeg.amount)
    rows = session.execute(
        sa.select(JournalLeg.entry_id, total).group_by(JournalLeg.entry_id)
        .having(sa.func.abs(total) >= Decimal("0.005"))
    ).all()
    return [(entry_id, amount) for entry_id, amount in rows]


def orphan_legs(session: Session) -> int:
    """Legs whose entry row was never written."""
    return session.scalar(
        sa.select(sa.func.count()).select_from(JournalLeg)
        .outerjoin(JournalEntry, JournalEntry.id == JournalLeg.entry_id)
        .where(JournalEntry.id.is_(None))
    ) or 0


def trial_balance(session: Session) -> Decimal:
    """The sum of every leg (0 when the ledger balances)."""
    return session.scalar(sa.select(money_total(JournalLeg.amount)))
