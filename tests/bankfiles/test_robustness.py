"""A SIGKILL in the middle of processing loses nothing and posts nothing twice
(PostgreSQL, real commits), and the nightly job then applies each line once;
processing memory stays flat (bench, SQLite)."""

from __future__ import annotations

import csv
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.bankfiles.application import receipts_difference
from app.bankfiles.bench import process_command, run_bench, seed_bank, upload_file, write_repayments
from app.bankfiles.models import BankLine, BankUpload, Outcome, Reason, UploadStatus
from app.db import make_session_factory, session_scope
from app.ledger.verify import orphan_legs, trial_balance, unbalanced_entries
from app.servicing.models import EventKind, Loan, LoanEvent
from app.servicing.reconcile import loan_differences
from jobs import daily, runner
from jobs.models import RunStatus
from tests.bankfiles.test_files import clearing_balance

LINES = 3000
BUSINESS_DATE = dt.date(2026, 1, 31)
# The bound stated for processing (any file size): the interpreter with
# SQLAlchemy and the app loaded is ~100 MB; one chunk of lines (a list of them
# judged and written) adds tens of MB.
MAX_RSS_MB = 300


@pytest.mark.pg_only
def test_kill_during_processing_posts_each_line_once(committed_engine, tmp_path):
    factory = make_session_factory(committed_engine)
    with session_scope(factory) as session:
        bank_id, loans = seed_bank(session, loans=40, tag="kill")
    path = tmp_path / "repayments.csv"
    valid = write_repayments(path, lines=LINES, loans=loans, post_every=1,
                             value_date=dt.date(2026, 1, 20))
    with session_scope(factory) as session:
        upload_id = upload_file(session, bank_id, path)
    url = committed_engine.url.render_as_string(hide_password=False)
    env = os.environ | {"LOANS_DATABASE_URL": url, "LOANS_BANKFILE_CHUNK_LINES": "200"}
    command = process_command(upload_id, BUSINESS_DATE)
    with path.open() as f:
        total = sum((Decimal(row["amount"]) for row in csv.DictReader(f)), Decimal(0))

    def lines_done() -> int:
        with session_scope(factory) as session:
            return session.scalar(sa.select(sa.func.count()).select_from(BankLine)
                                  .where(BankLine.upload_id == upload_id))

    child = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 300
    while lines_done() < 1000 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    killed_at = lines_done()
    assert 0 < killed_at < LINES, "the kill must land part-way through the file"
    subprocess.run(command, env=env, check=True, timeout=600)

    with session_scope(factory) as session:
        upload = session.get(BankUpload, upload_id)
        assert upload.status == UploadStatus.done and upload.lines_done == LINES
        outcomes = session.execute(sa.select(BankLine.outcome, sa.func.count())
                                   .where(BankLine.upload_id == upload_id)
                                   .group_by(BankLine.outcome)).all()
        assert outcomes == [(Outcome.posted, valid)]
        assert receipts_difference(session) == (-total, -total)  # each line receipted once
    [run] = runner.run_dates(factory, daily.NAME, [BUSINESS_DATE])  # the night after
    assert run.status == RunStatus.done, run.error
    with session_scope(factory) as session:
        per_txn = session.execute(
            sa.select(LoanEvent.external_ref, sa.func.count())
            .where(LoanEvent.kind == EventKind.payment)
            .group_by(LoanEvent.external_ref)).all()
        assert len(per_txn) == LINES and {count for _ref, count in per_txn} == {1}
        assert unbalanced_entries(session) == []
        assert orphan_legs(session) == 0
        assert trial_balance(session) == 0
        assert list(loan_differences(session)) == []
        assert receipts_difference(session) == (-total, -total)
        assert clearing_balance(session) == 0  # every receipt applied


@pytest.mark.pg_only
def test_two_workers_post_one_file_once_each_line_as_in_turn(committed_engine, tmp_path):
    """A plain file is cut into chunks that two ``loans worker`` processes post at
    once: every line once, with the outcome it has in turn, each chunk done
    once, the upload finished once, the money receipted once."""
    from app.audit.models import AuditRecord
    from app.bankfiles.models import BankUploadChunk
    from jobs import bankfiles
    from jobs.bench import polling
    from jobs.models import ChunkStatus, JobChunk, JobRun

    factory = make_session_factory(committed_engine)
    with session_scope(factory) as session:
        bank_id, loans = seed_bank(session, loans=40, tag="two")
    path = tmp_path / "repayments.csv"
    write_repayments(path, lines=LINES, loans=loans, post_every=3, value_date=dt.date(2026, 1, 20))
    with path.open() as f:
        rows = list(csv.DictReader(f))
    posted = {n for n, row in enumerate(rows, 1) if not row["contract_no"].startswith("NSL-NONE")}
    with session_scope(factory) as session:
        upload_id = upload_file(session, bank_id, path)
        run_id = runner.enqueue(session, bankfiles.NAME, BUSINESS_DATE).id
    url = committed_engine.url.render_as_string(hide_password=False)
    env = os.environ | {"LOANS_DATABASE_URL": url, "LOANS_BANKFILE_CHUNK_LINES": "200"}
    command = [sys.executable, "-m", "app.cli", "worker", "--poll", "0.1"]
    with polling(command, 2, env), factory() as session:
        for _ in range(3000):
            session.expire_all()
            if session.get_one(JobRun, run_id).status in (RunStatus.done, RunStatus.failed):
                break
            time.sleep(0.1)
    with session_scope(factory) as session:
        run = session.get_one(JobRun, run_id)
        assert (run.status, run.chunks_total, run.items) == (RunStatus.done, 15, LINES), run.error
        chunks = session.scalars(sa.select(JobChunk).where(JobChunk.run_id == run_id)).all()
        assert {(c.status, c.attempts) for c in chunks} == {(ChunkStatus.done, 1)}
        assert len({c.worker for c in chunks}) == 2  # both took part
        cut = session.execute(sa.select(BankUploadChunk.first_line, BankUploadChunk.last_line)
                              .where(BankUploadChunk.upload_id == upload_id)
                              .order_by(BankUploadChunk.seq)).all()
        assert [tuple(c) for c in cut] == [(n, n + 199) for n in range(1, LINES, 200)]
        upload = session.get(BankUpload, upload_id)
        assert (upload.status, upload.lines_done) == (UploadStatus.done, LINES)
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditRecord).where(
            AuditRecord.action == "bank_upload.processed")) == 1
        lines = session.execute(sa.select(BankLine.line_no, BankLine.outcome, BankLine.reason)
                                .where(BankLine.upload_id == upload_id)
                                .order_by(BankLine.line_no)).all()
        assert [tuple(x) for x in lines] == [
            (n, Outcome.posted, None) if n in posted
            else (n, Outcome.exception, Reason.unknown_contract) for n in range(1, LINES + 1)]
        total = sum(Decimal(rows[n - 1]["amount"]) for n in posted)
        assert receipts_difference(session) == (-total, -total)
        assert unbalanced_entries(session) == [] and trial_balance(session) == 0


def _name_again(path, loans, *, reversal_at: int, payment: int, repeat_at: int,
                repeated: int) -> None:
    """Rewrite two lines of a ``write_repayments`` file (of 40 loans, valued
    2026-01-20), whose line n + 1 is its n-th transaction T<n> (loan n % 40,
    amount 1.<n % 100>): line ``reversal_at`` reverses transaction
    ``payment``, line ``repeat_at`` repeats transaction ``repeated``."""
    (c_paid, id_paid), (c_again, id_again) = loans[payment % 40], loans[repeated % 40]
    lines = path.read_text().splitlines(keepends=True)
    lines[reversal_at] = (f"R000000001,{c_paid},{id_paid},1.{payment % 100:02d},2026-01-20,"
                          f"REVERSAL,T{payment:09d}\n")
    lines[repeat_at] = (f"T{repeated:09d},{c_again},{id_again},1.{repeated % 100:02d},"
                        "2026-01-20,REPAY,\n")
    path.write_text("".join(lines))


@pytest.mark.pg_only
def test_a_banks_later_file_waits_for_the_chunk_of_an_earlier_one_being_posted(
        committed_engine, tmp_path):
    """The second file's first chunk, taken while the first file's last chunk
    is being posted (not yet committed), waits for it: so its reversal of a
    payment in that chunk posts, and its repeat of a transaction id there is
    a duplicate."""
    from app.bankfiles.models import BankUploadChunk
    from app.bankfiles.processing import check_upload, post_chunk

    factory = make_session_factory(committed_engine)
    with session_scope(factory) as session:
        bank_id, loans = seed_bank(session, loans=40, tag="order")
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    day = dt.date(2026, 1, 20)
    write_repayments(first, lines=400, loans=loans, post_every=1, value_date=day)
    write_repayments(second, lines=400, loans=loans, post_every=1, value_date=day, prefix="U")
    _name_again(second, loans, reversal_at=50, payment=305, repeat_at=100, repeated=307)
    with session_scope(factory) as session:
        ids = [upload_file(session, bank_id, path) for path in (first, second)]
        for upload_id in ids:
            check_upload(session, upload_id, 200)
    with session_scope(factory) as session:
        chunks = session.execute(sa.select(BankUploadChunk.upload_id, BankUploadChunk.id)
                                 .order_by(BankUploadChunk.upload_id, BankUploadChunk.seq)).all()
        assert [u for u, _ in chunks] == [ids[0], ids[0], ids[1], ids[1]]  # each file cut
        post_chunk(session, chunks[0].id, business_date=BUSINESS_DATE)
    posted, commit = threading.Event(), threading.Event()

    def earlier() -> None:  # the first file's last chunk, held open until told
        with session_scope(factory) as session:
            post_chunk(session, chunks[1].id, business_date=BUSINESS_DATE)
            posted.set()
            commit.wait(30)

    def later() -> None:
        with session_scope(factory) as session:
            post_chunk(session, chunks[2].id, business_date=BUSINESS_DATE)

    threads = [threading.Thread(target=earlier)]
    threads[0].start()
    assert posted.wait(30)
    threads.append(threading.Thread(target=later))
    threads[1].start()
    threads[1].join(1.0)
    assert threads[1].is_alive()  # waiting for the earlier chunk
    commit.set()
    for thread in threads:
        thread.join(60)
    with session_scope(factory) as session:
        not_posted = session.execute(
            sa.select(BankLine.line_no, BankLine.outcome, BankLine.reason)
            .where(BankLine.upload_id == ids[1], BankLine.outcome != Outcome.posted)).all()
        assert [tuple(x) for x in not_posted] == [(100, Outcome.duplicate, Reason.duplicate)]
        reversal = session.execute(sa.select(BankLine.type, BankLine.outcome).where(
            BankLine.upload_id == ids[1], BankLine.line_no == 50)).one()
        assert tuple(reversal) == ("REVERSAL", Outcome.posted)


@pytest.mark.pg_only
def test_a_tied_files_later_chunk_waits_for_the_one_before_being_posted(
        committed_engine, tmp_path):
    """A file whose two chunks name transactions in common: the second, taken
    while the first is being posted (not yet committed), waits for it, so
    its reversal of a payment in the first posts, and its repeat of a
    transaction id there is a duplicate."""
    from app.bankfiles.models import BankUploadChunk
    from app.bankfiles.processing import check_upload, post_chunk

    factory = make_session_factory(committed_engine)
    with session_scope(factory) as session:
        bank_id, loans = seed_bank(session, loans=40, tag="inturn")
    path = tmp_path / "tied.csv"
    write_repayments(path, lines=400, loans=loans, post_every=1, value_date=dt.date(2026, 1, 20))
    _name_again(path, loans, reversal_at=250, payment=105, repeat_at=300, repeated=107)
    with session_scope(factory) as session:
        upload_id = upload_file(session, bank_id, path)
        check_upload(session, upload_id, 200)
    with session_scope(factory) as session:
        assert session.get_one(BankUpload, upload_id).chunks_in_turn
        chunks = session.scalars(sa.select(BankUploadChunk.id).where(
            BankUploadChunk.upload_id == upload_id).order_by(BankUploadChunk.seq)).all()
    assert len(chunks) == 2
    posted, commit = threading.Event(), threading.Event()

    def first() -> None:  # held open until told
        with session_scope(factory) as session:
            post_chunk(session, chunks[0], business_date=BUSINESS_DATE)
            posted.set()
            commit.wait(30)

    def second() -> None:
        with session_scope(factory) as session:
            post_chunk(session, chunks[1], business_date=BUSINESS_DATE)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    try:
        threads[0].start()
        assert posted.wait(30)
        threads[1].start()
        threads[1].join(1.0)
        assert threads[1].is_alive()  # waiting for the first chunk
    finally:
        commit.set()
        for thread in threads:
            if thread.is_alive():
                thread.join(60)
    with session_scope(factory) as session:
        not_posted = session.execute(
            sa.select(BankLine.line_no, BankLine.outcome, BankLine.reason)
            .where(BankLine.upload_id == upload_id, BankLine.outcome != Outcome.posted)).all()
        assert [tuple(x) for x in not_posted] == [(300, Outcome.duplicate, Reason.duplicate)]
        reversal = session.execute(sa.select(BankLine.type, BankLine.outcome).where(
            BankLine.upload_id == upload_id, BankLine.line_no == 250)).one()
        assert tuple(reversal) == ("REVERSAL", Outcome.posted)
        assert session.get_one(BankUpload, upload_id).status == UploadStatus.done


def test_processing_memory_stays_flat():
    """The suite's small version of ``loans bankfiles bench --lines 1000000``."""
    result = run_bench(lines=5000, post_every=50, loans=20)
    assert result["peak_rss_mb"] < MAX_RSS_MB, result


@pytest.mark.pg_only
@pytest.mark.parametrize("via", ["command", "job"])
def test_lines_read_ahead_are_judged_as_in_turn(committed_engine, tmp_path, monkeypatch, via):
    """Processing reads a chunk's next batch and finds its loans in a thread, on
    a connection of its own: with batches of two lines, every line is judged
    as it is in turn, and a transaction id repeated two chunks later is a
    duplicate of its first line (the file, tied by it, goes in chunks in turn).  Both
    through the command and through the ``bank_files`` job (whose sessions'
    bind is the engine here)."""
    from app.bankfiles import processing
    from jobs import bankfiles
    from tests.conftest import SETTINGS

    threads_used = []
    real_find = processing.find_loans

    def find_loans(session, records):
        threads_used.append(threading.current_thread().name.startswith("bankfile-ahead"))
        return real_find(session, records)

    monkeypatch.setattr(processing, "find_loans", find_loans)
    factory = make_session_factory(committed_engine)
    with session_scope(factory) as session:
        bank_id, loans = seed_bank(session, loans=3, tag="ahead")
    (c0, id0), (c1, id1), (c2, id2) = loans
    path = tmp_path / "ahead.csv"
    path.write_text(
        "bank_txn_id,contract_no,id_number,amount,value_date,type,reverses\n"
        f"A1,{c0},{id0},1.00,2026-01-20,REPAY,\n"
        f"A2,NSL-NONE-1,{id0},1.00,2026-01-20,REPAY,\n"
        f"A3,{c1},{id0},1.00,2026-01-20,REPAY,\n"
        f"A4,{c2},{id2},2.00,2026-01-20,REPAY,\n"
        f"A1,{c2},{id2},1.00,2026-01-20,REPAY,\n"
        f"A5,{c1},{id1},1.00,2026-02-20,REPAY,\n"
        f"A6,{c1},{id1},3.00,2026-01-21,REPAY,\n", encoding="utf-8")
    with session_scope(factory) as session:
        upload_id = upload_file(session, bank_id, path)
    if via == "command":
        processing.process_upload(factory, upload_id, business_date=BUSINESS_DATE, chunk_lines=2)
    else:
        monkeypatch.setattr(processing, "get_settings",
                            lambda: SETTINGS.model_copy(update={"bankfile_chunk_lines": 2}))
        [run] = runner.run_dates(factory, bankfiles.NAME, [BUSINESS_DATE])
        assert (run.status, run.items) == (RunStatus.done, 7), run.error

    with session_scope(factory) as session:
        ids = dict(session.execute(sa.select(Loan.contract_no, Loan.id)
                                   .where(Loan.contract_no.in_([c0, c1, c2]))).all())
        lines = session.execute(
            sa.select(BankLine.line_no, BankLine.outcome, BankLine.reason, BankLine.loan_id)
            .where(BankLine.upload_id == upload_id).order_by(BankLine.line_no)).all()
    assert [tuple(x) for x in lines] == [
        (1, Outcome.posted, None, ids[c0]),
        (2, Outcome.exception, Reason.unknown_contract, None),
        (3, Outcome.exception, Reason.id_mismatch, None),
        (4, Outcome.posted, None, ids[c2]),
        (5, Outcome.duplicate, Reason.duplicate, None),
        (6, Outcome.exception, Reason.future_date, None),
        (7, Outcome.posted, None, ids[c1]),
    ]
    # Chunks of two lines, each (cut) in two batches: every batch's loans found
    # by the look-ahead thread.
    assert threads_used == [True] * 7
