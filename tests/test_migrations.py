"""The schema comes only from migrations, and they match the models."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from app.config import REPO_ROOT
from app.db import make_session_factory, run_migrations, session_scope
from app.models import Base
from app.privacy.crypto import data_keys
from tests import factories
from tests.hardening.test_privacy import borrower_hashes


def test_models_and_migrations_agree(connection: Connection) -> None:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    assert compare_metadata(context, Base.metadata) == []


@pytest.mark.pg_only
def test_what_the_comparison_does_not_see(connection: Connection) -> None:
    """Column settings ``compare_metadata`` ignores: the bank files' ciphertext
    stored without compression attempts (0014); transaction ids (0014, 0018)
    and contract numbers (0019) ordered bytewise."""
    settings = connection.execute(sa.text(
        "SELECT attrelid::regclass::text || '.' || attname, attstorage::text, "
        "coalesce(collname, '') FROM pg_attribute LEFT JOIN pg_collation "
        "ON pg_collation.oid = attcollation WHERE (attrelid, attname) IN "
        "(('bank_upload_parts'::regclass, 'data'), ('bank_lines'::regclass, 'txn_key'), "
        "('loan_events'::regclass, 'external_ref'), ('loans'::regclass, 'contract_no'))"
    )).all()
    assert sorted(settings) == [("bank_lines.txn_key", "x", "C"),
                                ("bank_upload_parts.data", "e", ""),
                                ("loan_events.external_ref", "x", "C"),
                                ("loans.contract_no", "x", "C")]


def test_database_is_at_the_single_head(connection: Connection) -> None:
    script = ScriptDirectory.from_config(Config(str(REPO_ROOT / "alembic.ini")))
    heads = script.get_heads()
    assert len(heads) == 1, f"migrations branch: {heads}"
    assert MigrationContext.configure(connection).get_current_heads() == tuple(heads)


def test_0020_gives_existing_loans_their_borrowers_hash(empty_engine, set_today) -> None:
    """Loans written before migration 0020 get the hash the database keeps from then on."""
    run_migrations(empty_engine, "0019_contracts_bytewise")
    set_today("2025-10-01")
    with session_scope(make_session_factory(empty_engine)) as session:
        loan_id = factories.make_loan(session, id_number="11010519491231002X").id
    run_migrations(empty_engine)
    with empty_engine.connect() as conn:
        kept, borrowers = borrower_hashes(conn, loan_id)
    assert kept == borrowers == data_keys().lookup_hash("11010519491231002X")


def test_0021_gives_an_upload_part_way_one_chunk_of_its_lines_left(empty_engine) -> None:
    """An upload being processed when 0021 runs (its lines up to ``lines_done``
    posted in order) goes on as one chunk of the lines left; others get none."""
    run_migrations(empty_engine, "0020_loans_borrower_hash")
    with session_scope(make_session_factory(empty_engine)) as session:
        bank_id = factories.make_bank(session).id
    insert = sa.text(
        "INSERT INTO bank_uploads (bank_id, format, filename, sha256, size_bytes, status, "
        "lines_total, lines_done, uploaded_by, created_at) VALUES (:bank, 'repayment_csv', "
        "'f.csv', :sha, 10, :status, :total, :done, 'bank', '2026-11-27 00:00:00+00')")
    with empty_engine.begin() as conn:
        for sha, status, total, done in (("a", "processing", 10, 4), ("b", "done", 10, 10),
                                         ("c", "pending", None, 0)):
            conn.execute(insert, {"bank": bank_id, "sha": sha, "status": status,
                                  "total": total, "done": done})
    run_migrations(empty_engine)
    with empty_engine.connect() as conn:
        chunks = conn.execute(sa.text(
            "SELECT u.sha256, c.seq, c.first_line, c.last_line, c.byte_start, c.done_at "
            "FROM bank_upload_chunks c JOIN bank_uploads u ON u.id = c.upload_id")).all()
    assert [tuple(c) for c in chunks] == [("a", 1, 5, 10, None, None)]
