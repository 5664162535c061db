"""encrypt citizen ID numbers at rest, with a keyed lookup hash

Revision ID: 0006_encrypt_id_numbers
Revises: 0005_risk_fund
Create Date: 2026-11-26

``borrowers.id_number`` becomes Fernet ciphertext (TEXT) under the configured
data key; ``id_number_hash`` (HMAC-SHA256) takes over its uniqueness.  Existing
rows are converted in place, so the keys of the environment running the
migration are the ones the application must use.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db
import app.privacy.types
from app.privacy.crypto import data_keys

revision = '0006_encrypt_id_numbers'
down_revision = '0005_risk_fund'
branch_labels = None
depends_on = None

borrowers = sa.table(
    'borrowers', sa.column('id', sa.Integer), sa.column('id_number', sa.Text),
    sa.column('id_number_hash', sa.String),
)


def _convert(transform) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(borrowers.c.id, borrowers.c.id_number)).all()
    for row in rows:
        connection.execute(
            borrowers.update().where(borrowers.c.id == row.id), transform(row.id_number)
        )


def upgrade() -> None:
    with op.batch_alter_table('borrowers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('id_number_hash', sa.String(length=64), nullable=True))
        batch_op.drop_constraint('uq_borrowers_id_number', type_='unique')
        batch_op.alter_column('id_number', existing_type=sa.String(length=18),
                              type_=app.privacy.types.IdNumber(hash_column='id_number_hash'),
                              existing_nullable=False)
    keys = data_keys()
    _convert(lambda plain: {
        'id_number': keys.encrypt(plain.encode()).decode('ascii'),
        'id_number_hash': app.privacy.types.lookup_hash_of(plain),
    })
    with op.batch_alter_table('borrowers', schema=None) as batch_op:
        batch_op.alter_column('id_number_hash', existing_type=sa.String(length=64),
                              nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_borrowers_id_number_hash'),
                                          ['id_number_hash'])


def downgrade() -> None:
    keys = data_keys()
    _convert(lambda token: {
        'id_number': keys.decrypt(token.encode('ascii')).decode(),
    })
    with op.batch_alter_table('borrowers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_borrowers_id_number_hash'), type_='unique')
        batch_op.drop_column('id_number_hash')
        batch_op.alter_column('id_number', existing_type=sa.Text(), type_=sa.String(length=18),
                              existing_nullable=False)
        batch_op.create_unique_constraint('uq_borrowers_id_number', ['id_number'])
