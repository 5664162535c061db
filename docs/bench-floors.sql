-- What the due day and the repayment file would cost with no Python at all:
-- the rows each figure writes (and the file's loan lookup), each written or
-- read by one set-based statement, against the bench's bare baselines.
-- Everything is rolled back; run it on a copy of a kept portfolio
-- (`loans bench --build-only --keep`, README "Performance"):
--
--   psql -d COPY_DB -v schema=bench_xxxxxxxx -f docs/bench-floors.sql
--
-- Figures of one run are in README "Performance" ("What is missing").
\set ON_ERROR_STOP on
SET search_path = :schema;
VACUUM ANALYZE;
CHECKPOINT;
\timing on

\echo '== the bare UPDATE (the due day''s baseline)'
BEGIN;
UPDATE loans SET days_past_due = days_past_due;
ROLLBACK;
\timing off
VACUUM loans;
\timing on

\echo '== the due day''s rows: figures, saved machines, 4 legs and 1 entry a bill'
BEGIN;
UPDATE loans SET serviced_through = '2027-12-20', principal_outstanding = principal_outstanding,
    overdue_principal = overdue_principal, overdue_interest = overdue_interest,
    days_past_due = days_past_due, next_action_on = '2028-03-20', acc_penalty = acc_penalty,
    acc_penalty_per_day = acc_penalty_per_day;
UPDATE loan_engine_states SET through = '2027-12-20', machine = machine;
CREATE TEMPORARY TABLE bills ON COMMIT DROP AS
    SELECT (SELECT max(id) FROM journal_entries) + row_number() OVER (ORDER BY id) AS entry_id,
           id AS loan_id
    FROM loans;
-- legs first: the entries' statement-level check finds them balanced
INSERT INTO journal_legs (entry_id, account_id, loan_id, amount)
    SELECT entry_id, account, loan_id, amount
    FROM bills, (VALUES (1, 10.00), (2, -10.00), (3, 100.00), (4, -100.00)) AS v (account, amount);
INSERT INTO journal_entries (id, idempotency_key, kind, value_date, loan_id, slot, memo, posted_by,
                             posted_at)
    SELECT entry_id, 'floors:loan:' || loan_id || ':bill:2027-12-20', 'bill', '2027-12-20', loan_id,
           'bill:2027-12-20', '', 'floors', now()
    FROM bills;
ROLLBACK;
\timing off
VACUUM loans, loan_engine_states, journal_entries, journal_legs;
\timing on

\echo '== the repayment file: every line a posted repayment, its loan looked up'
CREATE TEMPORARY TABLE posted AS
    SELECT id AS line_no, bank_id, contract_no, id AS loan_id,
           'T' || lpad(id::text, 9, '0') AS txn
    FROM loans;
ANALYZE posted;
-- the hash used, or the planner leaves it out; the borrower's hash beside the
-- loan since migration 0020 (before: a probe of borrowers by key for each loan)
SELECT count(*) AS loans_found, sum(length(id_hash)) AS hash_chars FROM (
    SELECT l.id, l.bank_id, l.status = 'closed' AS closed, l.borrower_hash AS id_hash
    FROM loans l JOIN posted p ON p.contract_no = l.contract_no) AS found;
BEGIN;
INSERT INTO bank_uploads (bank_id, format, filename, sha256, size_bytes, status, uploaded_by,
                          created_at, lines_done)
    SELECT bank_id, 'repayment_csv', 'floors', 'floors', 0, 'processing', 'floors', now(), 0
    FROM posted LIMIT 1;
INSERT INTO bank_lines (upload_id, bank_id, line_no, type, bank_txn_id, contract_no, amount_text,
                        value_date_text, reverses, amount, value_date, txn_key, outcome, message,
                        loan_id)
    SELECT currval('bank_uploads_id_seq'), bank_id, line_no, 'REPAY', txn, contract_no, '1.23',
           '2027-12-21', '', 1.23, '2027-12-21', txn, 'posted', '', loan_id
    FROM posted;
ROLLBACK;
DROP TABLE posted;
