"""bank files: cheaper writes of an upload's parts and of its lines

``bank_upload_parts.data`` is ciphertext, which does not compress: with the
default storage PostgreSQL tries to compress every part (a mebibyte of
base64 text each) before giving up, which cost three times the insert
itself; ``STORAGE EXTERNAL`` stores it out of line without trying.

``bank_lines.txn_key`` is compared byte by byte (collation "C"): its unique
index with the bank, which every line a file posts extends, otherwise
compares through the database's locale (``strcoll``), the costliest of the
table's indexes to extend.  Equality, and so uniqueness, is the same under
both; the index is rebuilt.  SQLite compares text bytewise already.

``bank_lines.loan_event_id`` loses its foreign key, as the line's upload,
bank and loan did in 0013: PostgreSQL queues the key's check for every row
a COPY inserts, even with the key null (a posted line's until the nightly
job applies it), a fourteenth of the COPY's cost.  The column is only ever
set to the event just recorded for the line; loan events are never deleted.

Revision ID: 0014_bank_file_writes
Revises: 0013_repayment_receipts
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014_bank_file_writes'
down_revision = '0013_repayment_receipts'
branch_labels = None
depends_on = None

FOREIGN_KEY = 'fk_bank_lines_loan_event_id_loan_events'


def upgrade() -> None:
    with op.batch_alter_table('bank_lines', schema=None) as batch_op:
        batch_op.drop_constraint(FOREIGN_KEY, type_='foreignkey')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE bank_upload_parts ALTER COLUMN data SET STORAGE EXTERNAL")
        op.alter_column('bank_lines', 'txn_key', existing_type=sa.String(length=64),
                        type_=sa.String(length=64, collation="C"), existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column('bank_lines', 'txn_key',
                        existing_type=sa.String(length=64, collation="C"),
                        type_=sa.String(length=64), existing_nullable=True)
        op.execute("ALTER TABLE bank_upload_parts ALTER COLUMN data SET STORAGE EXTENDED")
    with op.batch_alter_table('bank_lines', schema=None) as batch_op:
        batch_op.create_foreign_key(FOREIGN_KEY, 'loan_events', ['loan_event_id'], ['id'])
