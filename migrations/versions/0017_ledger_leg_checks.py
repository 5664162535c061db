"""ledger: a leg's entry and account checked once per statement, not by foreign keys

Every leg carried two foreign keys, each checked row by row: its account
(PostgreSQL runs a query per leg and takes a share lock on the account's
row, so every worker posting locks the same dozen rows of the chart) and
its entry (deferred to commit, a query and a lock per leg again).  On a due
day, with four legs a bill, the two checks cost a third of the database's
share of the job.

The same rules now hold without them:

* a leg names an account that exists: checked with the other rules on a
  leg (its entry not posted yet), once per statement on PostgreSQL (over
  its transition table, through the chart's primary key) and per row on
  SQLite; an account that legs name cannot be deleted or renumbered;
* an entry balances (0010, 0002): checked when its row arrives, after its
  legs;
* a leg without an entry row (written, and the entry never) is what the
  deferred key refused at commit.  The ledger's only writer
  (``app.ledger.service.post``) writes an entry's legs and its row in one
  transaction; ``loans ledger verify`` counts such legs (``orphan_legs``).

SQLite rebuilds the table to drop the keys, which drops its triggers: they
are created again, the leg's with the account rule.

Revision ID: 0017_ledger_leg_checks
Revises: 0016_idempotency_key_retention
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = '0017_ledger_leg_checks'
down_revision = '0016_idempotency_key_retention'
branch_labels = None
depends_on = None

ENTRY_KEY = 'fk_journal_legs_entry_id_journal_entries'
ACCOUNT_KEY = 'fk_journal_legs_account_id_accounts'

# 0010's rule on new legs: none for an entry already posted (in both versions).
_POSTED_ENTRY = """  SELECT x.id INTO found_id FROM (SELECT DISTINCT entry_id FROM new_legs) n
    CROSS JOIN LATERAL (SELECT e.id FROM journal_entries e
                         WHERE e.id = n.entry_id LIMIT 1) x LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'journal entry % is posted: its legs cannot change', found_id;
  END IF;
"""

PG_UPGRADE = """
DROP TRIGGER journal_legs_open_entry ON journal_legs;
DROP FUNCTION journal_legs_open_entry();
CREATE FUNCTION journal_legs_checked() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE found_id bigint;
BEGIN
{posted_entry}  SELECT n.account_id INTO found_id FROM (SELECT DISTINCT account_id FROM new_legs) n
   WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.account_id) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'journal leg names account %, which does not exist', found_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER journal_legs_checked AFTER INSERT ON journal_legs
  REFERENCING NEW TABLE AS new_legs
  FOR EACH STATEMENT EXECUTE FUNCTION journal_legs_checked();
CREATE FUNCTION accounts_in_use() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM journal_legs WHERE account_id = OLD.id) THEN
    RAISE EXCEPTION 'account % has journal legs: it cannot be deleted or renumbered', OLD.code;
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER accounts_in_use BEFORE DELETE OR UPDATE OF id ON accounts
  FOR EACH ROW EXECUTE FUNCTION accounts_in_use();
""".replace("{posted_entry}", _POSTED_ENTRY)

PG_DOWNGRADE = """
DROP TRIGGER accounts_in_use ON accounts;
DROP FUNCTION accounts_in_use();
DROP TRIGGER journal_legs_checked ON journal_legs;
DROP FUNCTION journal_legs_checked();
CREATE FUNCTION journal_legs_open_entry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE found_id bigint;
BEGIN
{posted_entry}  RETURN NULL;
END $$;
CREATE TRIGGER journal_legs_open_entry AFTER INSERT ON journal_legs
  REFERENCING NEW TABLE AS new_legs
  FOR EACH STATEMENT EXECUTE FUNCTION journal_legs_open_entry();
""".replace("{posted_entry}", _POSTED_ENTRY)

_APPEND_ONLY = [
    f"""CREATE TRIGGER journal_legs_no_{op_name.lower()} BEFORE {op_name} ON journal_legs
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END"""
    for op_name in ("UPDATE", "DELETE")
]
_ACCOUNTS_IN_USE = [
    f"""CREATE TRIGGER accounts_in_use_{op_name.split()[0].lower()} BEFORE {op_name} ON accounts
    WHEN EXISTS (SELECT 1 FROM journal_legs WHERE account_id = OLD.id)
    BEGIN SELECT RAISE(ABORT, 'the account has journal legs: it cannot be deleted or renumbered');
    END"""
    for op_name in ("DELETE", "UPDATE OF id")
]
# journal_entries' balance trigger reads journal_legs: SQLite refuses to
# rename the rebuilt table under it, so it is dropped and created again.
SQLITE_ENTRY_BALANCED = """CREATE TRIGGER journal_entry_balanced BEFORE INSERT ON journal_entries
    WHEN (SELECT count(*) FROM journal_legs WHERE entry_id = NEW.id) < 2
      OR abs((SELECT coalesce(sum(amount), 0) FROM journal_legs WHERE entry_id = NEW.id)) >= 0.005
    BEGIN SELECT RAISE(ABORT, 'journal entry does not balance'); END"""
SQLITE_UPGRADE = [
    SQLITE_ENTRY_BALANCED,
    """CREATE TRIGGER journal_leg_open_entry BEFORE INSERT ON journal_legs
    WHEN EXISTS (SELECT 1 FROM journal_entries WHERE id = NEW.entry_id)
    BEGIN SELECT RAISE(ABORT, 'journal entry is posted: its legs cannot change'); END""",
    """CREATE TRIGGER journal_leg_known_account BEFORE INSERT ON journal_legs
    WHEN NOT EXISTS (SELECT 1 FROM accounts WHERE id = NEW.account_id)
    BEGIN SELECT RAISE(ABORT, 'journal leg names an account that does not exist'); END""",
    *_APPEND_ONLY,
    *_ACCOUNTS_IN_USE,
]
SQLITE_DOWNGRADE = [
    SQLITE_ENTRY_BALANCED,
    """CREATE TRIGGER journal_leg_open_entry BEFORE INSERT ON journal_legs
    WHEN EXISTS (SELECT 1 FROM journal_entries WHERE id = NEW.entry_id)
    BEGIN SELECT RAISE(ABORT, 'journal entry is posted: its legs cannot change'); END""",
    *_APPEND_ONLY,
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # An earlier migration of the same run may have posted entries (0013):
        # their deferred key checks run now, before the key is dropped.
        op.execute("SET CONSTRAINTS ALL IMMEDIATE")
    else:
        op.execute("DROP TRIGGER journal_entry_balanced")
    with op.batch_alter_table('journal_legs', schema=None) as batch_op:
        batch_op.drop_constraint(ENTRY_KEY, type_='foreignkey')
        batch_op.drop_constraint(ACCOUNT_KEY, type_='foreignkey')
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_UPGRADE)
    else:
        for statement in SQLITE_UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_DOWNGRADE)
    else:
        for trigger in ("accounts_in_use_delete", "accounts_in_use_update",
                        "journal_entry_balanced"):
            op.execute(f"DROP TRIGGER {trigger}")
    with op.batch_alter_table('journal_legs', schema=None) as batch_op:
        batch_op.create_foreign_key(ENTRY_KEY, 'journal_entries', ['entry_id'], ['id'],
                                    deferrable=True, initially='DEFERRED')
        batch_op.create_foreign_key(ACCOUNT_KEY, 'accounts', ['account_id'], ['id'])
    if op.get_bind().dialect.name != "postgresql":
        for statement in SQLITE_DOWNGRADE:
            op.execute(statement)
