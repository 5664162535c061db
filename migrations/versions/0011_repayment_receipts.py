"""repayment receipts: a clearing account, pending bank lines, line references per statement

A repayment is now booked in two steps (app/servicing/receipts.py): its
receipt when it is recorded (Dr bank_cash, Cr repayments_clearing) and its
application when the loan is serviced (the engine's ``pay:`` entry, which
now debits repayments_clearing instead of bank_cash).  This migration adds
the account and brings the ledger of existing payments to that model: each
payment or reversal event gets its receipt, and each standing application
that debited bank_cash is reversed and posted again debiting the clearing
account (what servicing's slot sync would do), so every balance of
bank_cash is unchanged and the clearing account nets to zero.

bank_lines: a posted line waits for the loan's next servicing
(``ix_bank_lines_pending``); posted lines no longer keep the ID number (it
becomes nullable); the exception index covers exception lines only; posted
reversals are indexed by the transaction they reverse; the day's index
leads with the date (see the model); the text columns a
posted line leaves empty, and created_at, get server defaults.  Its
row-level foreign keys to uploads, banks and loans go: PostgreSQL checks a
foreign key row by row (a trigger, a lookup and a lock of the referenced
row each), which cost ten times the COPY of a bank file's lines.  The
upload (and that it is the line's bank's) is checked once per statement
instead (PostgreSQL; a row trigger on SQLite); the loan is the one the
processing just matched, and loans are never deleted.

Revision ID: 0011_repayment_receipts
Revises: 0010_ledger_statement_checks
Create Date: 2026-11-26
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = '0011_repayment_receipts'
down_revision = '0010_ledger_statement_checks'
branch_labels = None
depends_on = None

PENDING = "loan_event_id IS NULL AND outcome IN ('posted', 'held')"
EXCEPTIONS = "exception_status IS NOT NULL"
REVERSALS = "type = 'REVERSAL' AND outcome = 'posted'"
POSTED_BY = "migration 0011_repayment_receipts"

PG_CHECKS = """
CREATE FUNCTION bank_lines_references() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE bad record;
BEGIN
  SELECT n.upload_id, n.bank_id INTO bad
    FROM (SELECT DISTINCT upload_id, bank_id FROM new_lines) n
    LEFT JOIN LATERAL (SELECT u.id FROM bank_uploads u
                        WHERE u.id = n.upload_id AND u.bank_id = n.bank_id) x ON true
   WHERE x.id IS NULL LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'bank line of upload % and bank %: no such upload of that bank',
      bad.upload_id, bad.bank_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER bank_lines_inserted AFTER INSERT ON bank_lines
  REFERENCING NEW TABLE AS new_lines
  FOR EACH STATEMENT EXECUTE FUNCTION bank_lines_references();
CREATE TRIGGER bank_lines_updated AFTER UPDATE ON bank_lines
  REFERENCING NEW TABLE AS new_lines
  FOR EACH STATEMENT EXECUTE FUNCTION bank_lines_references();
"""

PG_DROP_CHECKS = """
DROP TRIGGER bank_lines_inserted ON bank_lines;
DROP TRIGGER bank_lines_updated ON bank_lines;
DROP FUNCTION bank_lines_references();
"""

_SQLITE_WHEN = """WHEN NOT EXISTS (SELECT 1 FROM bank_uploads
                          WHERE id = NEW.upload_id AND bank_id = NEW.bank_id)
    BEGIN SELECT RAISE(ABORT, 'bank line: no such upload of its bank'); END"""
SQLITE_CHECKS = [
    f"CREATE TRIGGER bank_lines_inserted BEFORE INSERT ON bank_lines {_SQLITE_WHEN}",
    "CREATE TRIGGER bank_lines_updated BEFORE UPDATE OF upload_id, bank_id "
    f"ON bank_lines {_SQLITE_WHEN}",
]
# Columns a posted line leaves at their default, so its COPY sends fewer fields.
SERVER_DEFAULTS = (("reverses", sa.String(length=64), sa.text("''")),
                   ("academic_year", sa.String(length=20), sa.text("''")),
                   ("message", sa.Text(), sa.text("''")),
                   ("resolution_note", sa.Text(), sa.text("''")))

FOREIGN_KEYS = (("upload_id", "bank_uploads"), ("bank_id", "banks"), ("loan_id", "loans"))


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
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
    if sqlite:
        for statement in SQLITE_CHECKS:
            op.execute(statement)
    else:
        op.execute(PG_CHECKS)
    _book_past_payments_in_two_steps(op.get_bind())


def _partial_indexes() -> None:
    for name, columns, where in (
            ('ix_bank_lines_exception_status_reason', ['exception_status', 'reason'], EXCEPTIONS),
            ('ix_bank_lines_pending', ['loan_id'], PENDING),
            ('ix_bank_lines_reversals', ['bank_id', 'reverses'], REVERSALS)):
        op.create_index(name, 'bank_lines', columns, unique=False,
                        postgresql_where=sa.text(where), sqlite_where=sa.text(where))


# -- the ledger of payments recorded before: receipts, applications re-pointed ------


class _Ledger:
    """Raw-SQL posting for this migration (the app's models may be newer than it)."""

    def __init__(self, bind: sa.Connection) -> None:
        self.bind = bind
        self.accounts = dict(bind.execute(sa.text("SELECT code, id FROM accounts")).all())
        self.now = dt.datetime.now(dt.UTC)
        self.legs: list[dict] = []
        self.entries: list[dict] = []

    def add(self, key: str, kind: str, value_date: dt.date, loan_id: int | None,
            legs: list[tuple[str, Decimal, int | None]], *, slot: str | None = None,
            reverses: int | None = None, memo: str = "") -> None:
        self.entries.append({"key": key, "kind": kind, "value_date": value_date,
                             "loan_id": loan_id, "slot": slot, "reverses": reverses,
                             "memo": memo[:200]})
        self.legs.append(legs)

    def flush(self) -> None:
        if not self.entries:
            return
        ids = self._ids(len(self.entries))
        self.bind.execute(sa.text(
            "INSERT INTO journal_legs (entry_id, account_id, loan_id, amount) "
            "VALUES (:entry_id, :account_id, :loan_id, :amount)"),
            [{"entry_id": entry_id, "account_id": self.accounts[code], "loan_id": loan_id,
              "amount": str(amount)}
             for entry_id, legs in zip(ids, self.legs, strict=True)
             for code, amount, loan_id in legs])
        self.bind.execute(sa.text(
            "INSERT INTO journal_entries (id, idempotency_key, kind, value_date, loan_id, slot, "
            "reverses_entry_id, memo, posted_by, posted_at) VALUES (:id, :key, :kind, "
            ":value_date, :loan_id, :slot, :reverses, :memo, :posted_by, :posted_at)"),
            [{"id": entry_id, **e, "posted_by": POSTED_BY, "posted_at": self.now}
             for entry_id, e in zip(ids, self.entries, strict=True)])
        self.entries, self.legs = [], []

    def _ids(self, n: int) -> list[int]:
        if self.bind.dialect.name == "postgresql":
            return list(self.bind.scalars(sa.text(
                "SELECT nextval('journal_entry_id_seq') FROM generate_series(1, :n)"), {"n": n}))
        top = self.bind.scalar(sa.text("SELECT coalesce(max(id), 0) FROM journal_entries"))
        return list(range(top + 1, top + 1 + n))


def _book_past_payments_in_two_steps(bind: sa.Connection, batch: int = 2000) -> None:
    ledger = _Ledger(bind)
    loans = list(bind.scalars(sa.text(
        "SELECT DISTINCT loan_id FROM loan_events "
        "WHERE kind IN ('payment', 'payment_reversal') ORDER BY loan_id")))
    for start in range(0, len(loans), batch):
        ids = loans[start:start + batch]
        _receipts(bind, ledger, ids)
        _reapply(bind, ledger, ids)
        ledger.flush()


def _in(ids: list[int]) -> str:
    return ", ".join(str(int(i)) for i in ids)


def _receipts(bind: sa.Connection, ledger: _Ledger, loan_ids: list[int]) -> None:
    for event_id, loan_id, kind, day, amount in bind.execute(sa.text(
            "SELECT id, loan_id, kind, event_date, amount FROM loan_events "
            f"WHERE kind IN ('payment', 'payment_reversal') AND loan_id IN ({_in(loan_ids)}) "
            "ORDER BY id")):
        amount = Decimal(str(amount)).quantize(Decimal("0.01"))
        sign = 1 if kind == "payment" else -1
        ledger.add(f"receipt:{event_id}", "receipt" if sign > 0 else "receipt_reversal",
                   _date(day), loan_id,
                   [("bank_cash", sign * amount, None),
                    ("repayments_clearing", -sign * amount, None)],
                   memo=f"{kind} event {event_id}")


def _reapply(bind: sa.Connection, ledger: _Ledger, loan_ids: list[int]) -> None:
    """Standing payment entries that debit bank_cash: reversed, and posted again
    debiting the clearing account (the next version of their slot)."""
    entries = bind.execute(sa.text(
        "SELECT id, idempotency_key, kind, value_date, loan_id, slot, reverses_entry_id "
        f"FROM journal_entries WHERE loan_id IN ({_in(loan_ids)}) AND slot IS NOT NULL")).all()
    reversed_ids = {e.reverses_entry_id for e in entries if e.reverses_entry_id}
    versions: dict[tuple[int, str], int] = defaultdict(int)
    for e in entries:
        if e.reverses_entry_id is None:
            versions[(e.loan_id, e.slot)] += 1
    standing = [e for e in entries if e.kind == "payment" and e.reverses_entry_id is None
                and e.id not in reversed_ids]
    if not standing:
        return
    legs: dict[int, list[tuple[str, Decimal, int | None]]] = defaultdict(list)
    for entry_id, code, amount, loan_id in bind.execute(sa.text(
            "SELECT l.entry_id, a.code, l.amount, l.loan_id FROM journal_legs l "
            "JOIN accounts a ON a.id = l.account_id "
            f"WHERE l.entry_id IN ({_in([e.id for e in standing])}) ORDER BY l.id")):
        legs[entry_id].append((code, Decimal(str(amount)).quantize(Decimal("0.01")), loan_id))
    for e in standing:
        old = legs[e.id]
        if not any(code == "bank_cash" for code, _, _ in old):
            continue
        day = _date(e.value_date)
        ledger.add(f"{e.idempotency_key}:reversal", "reversal", day, e.loan_id,
                   [(code, -amount, loan) for code, amount, loan in old], slot=e.slot,
                   reverses=e.id, memo=f"reverses {e.kind} {e.idempotency_key}")
        version = versions[(e.loan_id, e.slot)] + 1
        ledger.add(f"loan:{e.loan_id}:{e.slot}:v{version}", e.kind, day, e.loan_id,
                   [("repayments_clearing" if code == "bank_cash" else code, amount, loan)
                    for code, amount, loan in old], slot=e.slot)


def _date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("bank_lines_inserted", "bank_lines_updated"):
            op.execute(f"DROP TRIGGER {name}")
    else:
        op.execute(PG_DROP_CHECKS)
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
