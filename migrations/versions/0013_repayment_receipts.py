"""repayment receipts: a clearing account, pending bank lines, bank_lines for COPY

A repayment is now booked in two steps (app/servicing/receipts.py): its
receipt when it is recorded (Dr bank_cash, Cr repayments_clearing) and its
application when the loan is serviced (the engine's ``pay:`` entry, which
now debits repayments_clearing instead of bank_cash).  This migration adds
the account and brings the ledger of existing payments to that model, set
based (a kept portfolio may hold millions): the payments and reversals
recorded so far get their receipts (one entry per value date), and each
standing application that debited bank_cash is reversed and posted again
debiting the clearing account (what servicing's slot sync would do), so
every balance of bank_cash is unchanged and the clearing account nets to
zero.

bank_lines: a posted line waits for the loan's next servicing
(``ix_bank_lines_pending``); posted lines no longer keep the ID number (it
becomes nullable); the exception index covers exception lines only; posted
reversals are indexed by the transaction they reverse; the day's index
leads with the date (see the model); the text columns a posted line leaves
empty, and created_at, get server defaults.  Its
row-level foreign keys to uploads, banks and loans go: PostgreSQL checks a
foreign key row by row (a trigger, a lookup and a lock of the referenced
row each), which cost ten times the COPY of a bank file's lines (and a
statement-level check over the new rows still a quarter of the insert).
Lines are written only by the processing of their upload, whose row it
holds locked, with the loans it just matched; none of the three is ever
deleted.

Revision ID: 0013_repayment_receipts
Revises: 0012_loan_penalty_cache
Create Date: 2026-11-26
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = '0013_repayment_receipts'
down_revision = '0012_loan_penalty_cache'
branch_labels = None
depends_on = None

PENDING = "loan_event_id IS NULL AND outcome IN ('posted', 'held')"
EXCEPTIONS = "exception_status IS NOT NULL"
REVERSALS = "type = 'REVERSAL' AND outcome = 'posted'"
POSTED_BY = "migration 0013_repayment_receipts"

# Columns a posted line leaves at their default, so its COPY sends fewer fields.
SERVER_DEFAULTS = (("reverses", sa.String(length=64), sa.text("''")),
                   ("academic_year", sa.String(length=20), sa.text("''")),
                   ("message", sa.Text(), sa.text("''")),
                   ("resolution_note", sa.Text(), sa.text("''")))

FOREIGN_KEYS = (("upload_id", "bank_uploads"), ("bank_id", "banks"), ("loan_id", "loans"))


def upgrade() -> None:
    accounts = sa.table("accounts", sa.column("code"), sa.column("name"), sa.column("type"))
    op.bulk_insert(accounts, [{"code": "repayments_clearing", "type": "liability",
                               "name": "Repayments received, not yet applied to their loans"}])
    with op.batch_alter_table('bank_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_bank_lines_exception_status_reason')
        batch_op.drop_index('ix_bank_lines_loan_id')
        batch_op.drop_index('ix_bank_lines_bank_id_value_date')
        batch_op.create_index('ix_bank_lines_value_date_bank_id', ['value_date', 'bank_id'],
                              unique=False)
        for column, table in FOREIGN_KEYS:
            batch_op.drop_constraint(f'fk_bank_lines_{column}_{table}', type_='foreignkey')
        batch_op.alter_column('id_number', existing_type=sa.Text(), nullable=True)
        for column, type_, default in SERVER_DEFAULTS:
            batch_op.alter_column(column, existing_type=type_, server_default=default)
        batch_op.alter_column('created_at', existing_type=sa.DateTime(timezone=True),
                              server_default=sa.func.now())
    _partial_indexes()
    _book_past_payments_in_two_steps(op.get_bind())


def _partial_indexes() -> None:
    for name, columns, where in (
            ('ix_bank_lines_exception_status_reason', ['exception_status', 'reason'], EXCEPTIONS),
            ('ix_bank_lines_pending', ['loan_id'], PENDING),
            ('ix_bank_lines_reversals', ['bank_id', 'reverses'], REVERSALS)):
        op.create_index(name, 'bank_lines', columns, unique=False,
                        postgresql_where=sa.text(where), sqlite_where=sa.text(where))


# -- the ledger of payments recorded before: receipts, applications re-pointed ------


def _book_past_payments_in_two_steps(bind: sa.Connection) -> None:
    """Set-based (a kept portfolio may hold millions of payments): one receipt
    entry per value date for the payments and reversals recorded so far, and
    each standing application that debits bank_cash reversed and posted again
    (the next version of its slot) debiting the clearing account."""
    accounts = dict(bind.execute(sa.text("SELECT code, id FROM accounts")).all())
    now = dt.datetime.now(dt.UTC)
    _receipts(bind, accounts, now)
    _reapply(bind, accounts, now)


def _new_ids(bind: sa.Connection, n: int) -> list[int]:
    if bind.dialect.name == "postgresql":
        return list(bind.scalars(sa.text(
            "SELECT nextval('journal_entry_id_seq') FROM generate_series(1, :n)"), {"n": n}))
    top = bind.scalar(sa.text("SELECT coalesce(max(id), 0) FROM journal_entries"))
    return list(range(top + 1, top + 1 + n))


def _receipts(bind: sa.Connection, accounts: dict[str, int], now: dt.datetime) -> None:
    days = bind.execute(sa.text(
        "SELECT event_date, "
        "round(sum(CASE WHEN kind = 'payment' THEN amount ELSE 0 END), 2), "
        "round(sum(CASE WHEN kind = 'payment_reversal' THEN amount ELSE 0 END), 2) "
        "FROM loan_events WHERE kind IN ('payment', 'payment_reversal') "
        "GROUP BY event_date ORDER BY event_date")).all()
    if not days:
        return
    cash, clearing = accounts["bank_cash"], accounts["repayments_clearing"]
    legs, entries = [], []
    for entry_id, (day, received, returned) in zip(_new_ids(bind, len(days)), days,
                                                   strict=True):
        received, returned = _money(received), _money(returned)
        for account, amount in ((cash, received), (clearing, -received),
                                (clearing, returned), (cash, -returned)):
            if amount:
                legs.append({"entry_id": entry_id, "account_id": account, "amount": str(amount)})
        day = _date(day)
        entries.append({"id": entry_id, "key": f"receipts before 0013:{day.isoformat()}",
                        "kind": "receipt" if received else "receipt_reversal", "day": day,
                        "memo": "payments recorded before receipts were booked apart",
                        "by": POSTED_BY, "at": now})
    bind.execute(sa.text("INSERT INTO journal_legs (entry_id, account_id, loan_id, amount) "
                         "VALUES (:entry_id, :account_id, NULL, :amount)"), legs)
    bind.execute(sa.text(
        "INSERT INTO journal_entries (id, idempotency_key, kind, value_date, loan_id, slot, "
        "reverses_entry_id, memo, posted_by, posted_at) "
        "VALUES (:id, :key, :kind, :day, NULL, NULL, NULL, :memo, :by, :at)"), entries)


def _reapply(bind: sa.Connection, accounts: dict[str, int], now: dt.datetime) -> None:
    if bind.dialect.name == "postgresql":
        rev_id = new_id = "nextval('journal_entry_id_seq')"
        top = ""
    else:  # SQLite: its transaction holds the write lock; count on from the largest id
        rev_id = "t.top + 2 * row_number() OVER (ORDER BY e.id) - 1"
        new_id = "t.top + 2 * row_number() OVER (ORDER BY e.id)"
        top = " CROSS JOIN (SELECT coalesce(max(id), 0) AS top FROM journal_entries) t"
    bind.execute(sa.text(
        f"CREATE TEMPORARY TABLE _reapplied AS SELECT e.id, {rev_id} AS rev_id, "
        f"{new_id} AS new_id, e.idempotency_key, e.value_date, e.loan_id, e.slot, "
        "(SELECT count(*) FROM journal_entries v WHERE v.loan_id = e.loan_id "
        " AND v.slot = e.slot AND v.reverses_entry_id IS NULL) AS versions "
        f"FROM journal_entries e{top} "
        "WHERE e.kind = 'payment' AND e.reverses_entry_id IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM journal_entries r WHERE r.reverses_entry_id = e.id) "
        "AND EXISTS (SELECT 1 FROM journal_legs l WHERE l.entry_id = e.id "
        "AND l.account_id = :cash)"), {"cash": accounts["bank_cash"]})
    bind.execute(sa.text(
        "INSERT INTO journal_legs (entry_id, account_id, loan_id, amount) "
        "SELECT a.rev_id, l.account_id, l.loan_id, -l.amount "
        "FROM _reapplied a JOIN journal_legs l ON l.entry_id = a.id UNION ALL "
        "SELECT a.new_id, CASE WHEN l.account_id = :cash THEN :clearing ELSE l.account_id END, "
        "l.loan_id, l.amount FROM _reapplied a JOIN journal_legs l ON l.entry_id = a.id"),
        {"cash": accounts["bank_cash"], "clearing": accounts["repayments_clearing"]})
    bind.execute(sa.text(
        "INSERT INTO journal_entries (id, idempotency_key, kind, value_date, loan_id, slot, "
        "reverses_entry_id, memo, posted_by, posted_at) "
        "SELECT rev_id, idempotency_key || '\\:reversal', 'reversal', value_date, loan_id, slot, "
        "id, 'reverses payment ' || idempotency_key, :by, :at FROM _reapplied UNION ALL "
        "SELECT new_id, 'loan:' || loan_id || ':' || slot || '\\:v' || (versions + 1), 'payment', "
        "value_date, loan_id, slot, NULL, '', :by, :at FROM _reapplied"),
        {"by": POSTED_BY, "at": now})
    bind.execute(sa.text("DROP TABLE _reapplied"))


def _money(value: object) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def _date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def downgrade() -> None:
    for name in ('ix_bank_lines_reversals', 'ix_bank_lines_pending',
                 'ix_bank_lines_exception_status_reason'):
        op.drop_index(name, table_name='bank_lines')
    # The ledger keeps its receipts and clearing postings: history is never
    # edited.  Posted lines have no ID number to restore.
    with op.batch_alter_table('bank_lines', schema=None) as batch_op:
        for column, type_, _default in SERVER_DEFAULTS:
            batch_op.alter_column(column, existing_type=type_, server_default=None)
        batch_op.alter_column('created_at', existing_type=sa.DateTime(timezone=True),
                              server_default=None)
        for column, table in FOREIGN_KEYS:
            batch_op.create_foreign_key(f'fk_bank_lines_{column}_{table}', table, [column],
                                        ['id'])
        batch_op.create_index('ix_bank_lines_loan_id', ['loan_id'], unique=False)
        batch_op.drop_index('ix_bank_lines_value_date_bank_id')
        batch_op.create_index('ix_bank_lines_bank_id_value_date', ['bank_id', 'value_date'],
                              unique=False)
        batch_op.create_index('ix_bank_lines_exception_status_reason',
                              ['exception_status', 'reason'], unique=False)
