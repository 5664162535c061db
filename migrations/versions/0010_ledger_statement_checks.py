"""ledger: check entry balance and closed entries once per statement (PostgreSQL)

The row-level triggers of 0002 ran a plpgsql function and an index probe for
every leg and every entry: on a due day that doubled the cost of posting a
million bills.  The same rules, checked once per statement over its
transition table, refuse exactly what the row triggers refused: each new
entry's legs are summed through the entry_id index, each new leg's entry is
looked up by primary key (LATERAL keeps both to index probes whatever the
statement's size, never a scan of the ledger).  SQLite keeps its row
triggers.

Revision ID: 0010_ledger_statement_checks
Revises: 0009_jobs
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = '0010_ledger_statement_checks'
down_revision = '0009_jobs'
branch_labels = None
depends_on = None

STATEMENT_CHECKS = """
DROP TRIGGER journal_entry_balanced ON journal_entries;
DROP TRIGGER journal_leg_open_entry ON journal_legs;
CREATE FUNCTION journal_entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE bad record;
BEGIN
  SELECT n.id, s.legs, s.total INTO bad FROM new_entries n
    CROSS JOIN LATERAL (SELECT count(*) AS legs, coalesce(sum(l.amount), 0) AS total
                          FROM journal_legs l WHERE l.entry_id = n.id) s
   WHERE s.legs < 2 OR s.total <> 0 LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'journal entry % does not balance (% legs, sum %)',
      bad.id, bad.legs, bad.total;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries
  REFERENCING NEW TABLE AS new_entries
  FOR EACH STATEMENT EXECUTE FUNCTION journal_entries_balanced();
CREATE FUNCTION journal_legs_open_entry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE posted bigint;
BEGIN
  SELECT x.id INTO posted FROM (SELECT DISTINCT entry_id FROM new_legs) n
    CROSS JOIN LATERAL (SELECT e.id FROM journal_entries e
                         WHERE e.id = n.entry_id LIMIT 1) x LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'journal entry % is posted: its legs cannot change', posted;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER journal_legs_open_entry AFTER INSERT ON journal_legs
  REFERENCING NEW TABLE AS new_legs
  FOR EACH STATEMENT EXECUTE FUNCTION journal_legs_open_entry();
DROP FUNCTION journal_entry_balanced();
DROP FUNCTION journal_leg_open_entry();
"""

ROW_CHECKS = """
DROP TRIGGER journal_entries_balanced ON journal_entries;
DROP TRIGGER journal_legs_open_entry ON journal_legs;
DROP FUNCTION journal_entries_balanced();
DROP FUNCTION journal_legs_open_entry();
CREATE FUNCTION journal_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE total numeric; legs integer;
BEGIN
  SELECT coalesce(sum(amount), 0), count(*) INTO total, legs
    FROM journal_legs WHERE entry_id = NEW.id;
  IF legs < 2 OR total <> 0 THEN
    RAISE EXCEPTION 'journal entry % does not balance (% legs, sum %)', NEW.id, legs, total;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER journal_entry_balanced BEFORE INSERT ON journal_entries
  FOR EACH ROW EXECUTE FUNCTION journal_entry_balanced();
CREATE FUNCTION journal_leg_open_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM journal_entries WHERE id = NEW.entry_id) THEN
    RAISE EXCEPTION 'journal entry % is posted: its legs cannot change', NEW.entry_id;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER journal_leg_open_entry BEFORE INSERT ON journal_legs
  FOR EACH ROW EXECUTE FUNCTION journal_leg_open_entry();
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(STATEMENT_CHECKS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ROW_CHECKS)
