"""bank files: a tied file's chunks posted in turn instead of one chunk

A plain repayment file whose chunks name a transaction in common (a repeated
id, a reversal of a payment in another chunk) was one chunk: one transaction
for the whole file.  It is now cut like any plain file, and
``bank_uploads.chunks_in_turn`` says its chunks are posted each after the one
before it (a worker taking a later chunk waits for the earlier ones), so a
large tied file is posted in bounded transactions too and a killed worker
loses one chunk.  Uploads checked before keep their chunks as they are.

Revision ID: 0022_upload_chunks_in_turn
Revises: 0021_bank_upload_chunks
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022_upload_chunks_in_turn'
down_revision = '0021_bank_upload_chunks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('bank_uploads', sa.Column('chunks_in_turn', sa.Boolean(), nullable=False,
                                            server_default=sa.false()))


def downgrade() -> None:
    op.drop_column('bank_uploads', 'chunks_in_turn')
