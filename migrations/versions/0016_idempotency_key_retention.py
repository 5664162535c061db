"""idempotency keys: an index on created_at for the nightly purge

Revision ID: 0016_idempotency_key_retention
Revises: 0015_bank_lines_date_brin
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = '0016_idempotency_key_retention'
down_revision = '0015_bank_lines_date_brin'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_idempotency_keys_created_at', 'idempotency_keys', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_idempotency_keys_created_at', table_name='idempotency_keys')
