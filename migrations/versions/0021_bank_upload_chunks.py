"""bank files: an upload's lines in chunks that workers post at once

A checked upload is cut into chunks of lines (``bank_upload_chunks``), each
posted in one transaction: one chunk of the ``bank_files`` job each, so
several workers post one large file at once, and a killed worker loses
only its chunk.  ``bank_uploads.lines_done`` becomes the count of lines
whose chunk is done.  An upload being processed when this runs (its lines
up to ``lines_done`` posted, in order) gets one chunk of the lines left.

Revision ID: 0021_bank_upload_chunks
Revises: 0020_loans_borrower_hash
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '0021_bank_upload_chunks'
down_revision = '0020_loans_borrower_hash'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('bank_upload_chunks',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('upload_id', ID, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('first_line', sa.Integer(), nullable=False),
    sa.Column('last_line', sa.Integer(), nullable=False),
    sa.Column('byte_start', sa.BigInteger(), nullable=True),
    sa.Column('done_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['upload_id'], ['bank_uploads.id'], name=op.f('fk_bank_upload_chunks_upload_id_bank_uploads')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_upload_chunks')),
    sa.UniqueConstraint('upload_id', 'seq', name=op.f('uq_bank_upload_chunks_upload_id_seq'))
    )
    op.execute(
        "INSERT INTO bank_upload_chunks (upload_id, seq, first_line, last_line) "
        "SELECT id, 1, lines_done + 1, lines_total FROM bank_uploads "
        "WHERE status = 'processing' AND lines_done < lines_total")


def downgrade() -> None:
    op.drop_table('bank_upload_chunks')
