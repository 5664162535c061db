"""loan events: the external reference ordered byte by byte

``loan_events.external_ref`` (a bank's transaction id for a payment) gets
collation "C" on PostgreSQL, as ``bank_lines.txn_key`` did in 0014: a bank
file's chunk looks its transaction ids up in both, scanning each index
between the smallest and the largest id, and with both ordered bytewise the
two ends are taken in Python instead of by the database from an array of
the chunk's ids (``app.db.sparse_rows``).  Equality is the same under both
collations; the index is rebuilt.  SQLite compares text bytewise already.

Revision ID: 0018_event_refs_bytewise
Revises: 0017_ledger_leg_checks
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018_event_refs_bytewise'
down_revision = '0017_ledger_leg_checks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column('loan_events', 'external_ref', existing_type=sa.String(length=64),
                        type_=sa.String(length=64, collation="C"), existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column('loan_events', 'external_ref',
                        existing_type=sa.String(length=64, collation="C"),
                        type_=sa.String(length=64), existing_nullable=True)
