"""loans: the penalty accumulator cached with the other figures of the last run

``acc_penalty`` (exact, yuan·days) and ``acc_penalty_per_day`` let the default
list state the penalty on any as-of date before the loan's next action
date without running the engine.  Existing loans have neither until their
next servicing run; until then the list asks the engine about those that
are reportable defaults.

Revision ID: 0012_loan_penalty_cache
Revises: 0011_calendar_years
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '0012_loan_penalty_cache'
down_revision = '0011_calendar_years'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acc_penalty', app.db.ExactDecimal(), nullable=True))
        batch_op.add_column(sa.Column('acc_penalty_per_day', app.db.ExactDecimal(),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.drop_column('acc_penalty_per_day')
        batch_op.drop_column('acc_penalty')
