"""bank_lines: a day's lines found through a block-range index on the date

Reconciliation (对账) reads one bank's lines of one value date.  The B-tree
on (value_date, bank_id) cost every line a file posts an eighth of its COPY
to extend; lines arrive roughly in value-date order, so a BRIN index on the
date (its new ranges summarised as they fill) finds the day's blocks for
next to nothing per line, and the bank is a filter on those blocks.
SQLite has no BRIN: there it is an ordinary index on the date.

Revision ID: 0015_bank_lines_date_brin
Revises: 0014_bank_file_writes
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = '0015_bank_lines_date_brin'
down_revision = '0014_bank_file_writes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_bank_lines_value_date_bank_id', table_name='bank_lines')
    op.create_index('ix_bank_lines_value_date', 'bank_lines', ['value_date'], unique=False,
                    postgresql_using='brin', postgresql_with={'autosummarize': 'on'})


def downgrade() -> None:
    op.drop_index('ix_bank_lines_value_date', table_name='bank_lines')
    op.create_index('ix_bank_lines_value_date_bank_id', 'bank_lines',
                    ['value_date', 'bank_id'], unique=False)
