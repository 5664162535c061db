"""Bank files end to end: every committed sample file, posting exactly once,
reversals, whole-file faults and unsafe XML (both databases)."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.bankfiles.application import dangling_line_references, receipts_difference
from app.bankfiles.models import BankLine, BankUploadPart, FileFormat, Outcome, UploadStatus
from app.bankfiles.processing import process_pending
from app.bankfiles.service import upload_report
from app.db import make_session_factory, money_total
from app.engine.machine import LoanMachine
from app.engine.scenario import state_to_json
from app.engine.state import read_state
from app.ledger.models import Account, JournalLeg
from app.ledger.verify import orphan_legs, trial_balance, unbalanced_entries
from app.privacy.crypto import SEALED
from app.servicing.models import EventKind, LoanEvent
from app.servicing.receipts import CLEARING
from app.servicing.reconcile import engine_balances, loan_differences
from app.servicing.service import engine_events, load_events, run_loan, terms_of
from tests.bankfiles.conftest import BUSINESS_DATE, CLOSED, DATA, A, B, payments


def assert_ledger_sound(db) -> None:
    """Entries balance, loans match the engine, each payment is receipted once."""
    db.expire_all()
    assert unbalanced_entries(db) == []
    assert orphan_legs(db) == 0
    assert trial_balance(db) == 0
    assert list(loan_differences(db)) == []
    booked, due = receipts_difference(db)
    assert booked == due
    assert dangling_line_references(db) == {}


def account_total(db, code: str) -> Decimal:
    """The sum of an account's legs (debit positive)."""
    return db.scalar(sa.select(money_total(JournalLeg.amount))
                     .join(Account, Account.id == JournalLeg.account_id)
                     .where(Account.code == code))


def clearing_balance(db) -> Decimal:
    """What ``repayments_clearing`` holds: receipts not yet applied."""
    return account_total(db, CLEARING)


def by_ref(db, loan) -> dict[str, LoanEvent]:
    return {e.external_ref: e for e in payments(db, loan)}


def test_utf8_file_posts_each_line_and_its_reversal(db, world):
    upload, created = world.upload("repayments-utf8.csv")
    assert created and upload.status == UploadStatus.pending
    done = world.process(upload.id)
    assert (done.status, done.encoding, done.lines_total) == (UploadStatus.done, "utf-8-sig", 3)
    report = upload_report(db, done)
    assert report | {"exceptions_by_reason": None} == {
        "lines_read": 3, "posted": 2, "amount_posted": "830.16", "reversals_posted": 1,
        "amount_reversed": "530.16", "held": 0, "amount_held": "0.00", "duplicates": 0,
        "exceptions": 0, "ignored": 0, "exceptions_by_reason": None}
    assert payments(db, world.loans[A]) == []  # receipted; applied by the nightly job
    world.apply()
    a = by_ref(db, world.loans[A])
    assert a["B20270120000001"].kind == EventKind.payment
    assert a["B20270120000001"].amount == Decimal("530.16")
    assert a["B20270120000001"].source == f"bankfile:{upload.id}"
    assert a["B20270121000007"].reverses_event_id == a["B20270120000001"].id
    b = by_ref(db, world.loans[B])
    assert b["B20270120000002"].event_date == dt.date(2027, 1, 20)
    assert world.loans[B].serviced_through == BUSINESS_DATE
    assert_ledger_sound(db)


def test_verify_finds_lines_naming_rows_that_do_not_exist(db, world):
    """``bank_lines`` has no foreign keys (COPY speed): the ledger's verification
    finds what they would have refused."""
    upload, _ = world.upload("repayments-utf8.csv")
    world.process(upload.id)
    world.apply()
    assert dangling_line_references(db) == {}
    first = db.scalar(sa.select(sa.func.min(BankLine.id)).where(BankLine.upload_id == upload.id))
    gone = 10**9
    db.execute(sa.update(BankLine).where(BankLine.id == first)
               .values(loan_id=gone, loan_event_id=gone))
    db.execute(sa.update(BankLine).where(BankLine.upload_id == upload.id, BankLine.id != first)
               .values(upload_id=gone))
    assert dangling_line_references(db) == {"upload_id": 2, "loan_id": 1, "loan_event_id": 1}


def test_a_reversal_restores_the_loan_exactly(db, world):
    """A payment posted by one file and reversed by a later one leaves the loan and
    its ledger as a simulation that never had the payment."""
    loan = world.loans[A]
    before = run_loan(db, loan, BUSINESS_DATE)
    first, _ = world.upload("repayments-utf8-bom.csv")
    world.process(first.id)
    world.apply()
    assert by_ref(db, loan)["B20270122000001"].amount == Decimal("200.00")
    after_payment = run_loan(db, loan, BUSINESS_DATE)
    assert after_payment.principal_unbilled == Decimal("5800.00")  # in school: a prepayment
    reversal = (
        "bank_txn_id,contract_no,id_number,amount,value_date,type,reverses\n"
        f"B20270126000001,{A},11010519491231002X,200.00,2027-01-26,REVERSAL,B20270122000001\n"
    ).encode()
    second, _ = world.upload(reversal)
    world.process(second.id)
    assert world.lines(second.id)[1].outcome == Outcome.posted
    world.apply()
    stored = load_events(db, loan.id)
    without = [e for e in engine_events(stored) if e.index not in
               {x.id for x in stored if x.kind in (EventKind.payment,
                                                    EventKind.payment_reversal)}]
    simulated = LoanMachine(terms_of(loan)).run(without, BUSINESS_DATE)
    assert state_to_json(read_state(run_loan(db, loan, BUSINESS_DATE), BUSINESS_DATE)) == \
        state_to_json(read_state(simulated, BUSINESS_DATE))
    assert engine_balances(simulated) == engine_balances(before)
    assert_ledger_sound(db)  # the ledger books exactly the simulation's balances


def test_the_same_bytes_twice_post_once(db, world, client):
    data = (DATA / "repayments-utf8.csv").read_bytes()
    first = client.post("/v1/bank-files", content=data, headers=world.headers)
    again = client.post("/v1/bank-files", content=data, headers=world.headers)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["already_uploaded"]
    factory = make_session_factory(db.get_bind(), join_transaction_mode="create_savepoint")
    assert process_pending(factory, BUSINESS_DATE) == [first.json()["id"]]
    assert process_pending(factory, BUSINESS_DATE) == []
    world.apply()
    assert len(payments(db, world.loans[A])) == 2 and len(payments(db, world.loans[B])) == 1
    third = client.post("/v1/bank-files", content=data, headers=world.headers)
    assert third.status_code == 200 and third.json()["report"]["posted"] == 2


def test_overlapping_files_post_each_transaction_once(db, world):
    head = "bank_txn_id,contract_no,id_number,amount,value_date,type,reverses\n"

    def line(txn: str, amount: str) -> str:
        return f"{txn},{A},11010519491231002X,{amount},2027-01-27,REPAY,\n"

    one = head + line("O1", "10.00") + line("O2", "20.00")
    two = head + line("O2", "20.00") + line("O3", "30.00")
    ids = [world.upload(text.encode())[0].id for text in (one, two)]
    for upload_id in ids + ids:  # processing again changes nothing either
        world.process(upload_id)
    world.apply()
    refs = [e.external_ref for e in payments(db, world.loans[A])]
    assert sorted(refs) == ["O1", "O2", "O3"]
    second = world.lines(ids[1])
    assert (second[1].outcome, second[2].outcome) == (Outcome.duplicate, Outcome.posted)
    assert f"upload {ids[0]} line 2" in second[1].message
    assert_ledger_sound(db)


@pytest.mark.parametrize("declared", [None, "gbk", "GB2312"])
def test_gbk_file_with_chinese_text(db, world, declared):
    upload, _ = world.upload("repayments-gbk.csv", encoding=declared)
    done = world.process(upload.id)
    assert (done.status, done.encoding) == (UploadStatus.done, "gbk")
    lines = world.lines(upload.id)
    assert [(x.bank_txn_id, x.amount, x.outcome) for x in lines.values()] == [
        ("G20270123000001", Decimal("620.00"), Outcome.posted),
        ("G20270123000002", Decimal("99.99"), Outcome.posted)]
    raw = b"".join(db.scalars(sa.select(BankUploadPart.data)
                              .where(BankUploadPart.upload_id == upload.id)))
    assert "张三 一月还款".encode("gbk") in raw


def test_utf8_with_bom(db, world):
    done = world.process(world.upload("repayments-utf8-bom.csv", encoding="utf-8")[0].id)
    assert upload_report(db, done)["amount_posted"] == "350.50"
    assert world.lines(done.id)[1].bank_txn_id == "B20270122000001"  # BOM not in the id


def test_camt053_statement(db, world):
    done = world.process(world.upload("camt053.xml", FileFormat.camt053)[0].id)
    assert done.status == UploadStatus.done
    lines = world.lines(done.id)
    assert [(x.bank_txn_id, x.type, x.outcome) for x in lines.values()] == [
        ("C20270120000001", "REPAY", Outcome.posted),
        ("C20270120000002", "REPAY", Outcome.posted),
        ("C20270121000003", "", Outcome.ignored),  # the bank's fee, a debit
        ("C20270122000009", "REVERSAL", Outcome.posted)]
    assert lines[1].contract_no == A and lines[2].contract_no == B  # Ustrd, EndToEndId
    world.apply()
    b = by_ref(db, world.loans[B])
    assert b["C20270122000009"].reverses_event_id == b["C20270120000002"].id
    assert by_ref(db, world.loans[A])["C20270120000001"].amount == Decimal("530.16")
    assert_ledger_sound(db)


def test_camt054_notification(db, world):
    done = world.process(world.upload("camt054.xml", FileFormat.camt054)[0].id)
    assert upload_report(db, done)["amount_posted"] == "410.00"
    world.apply()
    assert by_ref(db, world.loans[B])["N20270125000002"].event_date == dt.date(2027, 1, 24)


def test_camt_with_a_wrong_payer_id_is_an_exception(db, world):
    text = (DATA / "camt054.xml").read_text().replace("44010620000101123X", "440106200001019999")
    done = world.process(world.upload(text.encode(), FileFormat.camt054)[0].id)
    assert world.lines(done.id)[2].reason == "id_mismatch"


@pytest.mark.parametrize(("name", "fmt", "code"), [
    ("trailer-mismatch.csv", FileFormat.repayment_csv, "trailer_mismatch"),
    ("missing-columns.csv", FileFormat.repayment_csv, "missing_columns"),
    ("repayments-utf16.csv", FileFormat.repayment_csv, "bad_encoding"),
    ("camt053.xml", FileFormat.repayment_csv, "wrong_format"),
    ("repayments-utf8.csv", FileFormat.camt053, "wrong_format"),
    ("camt054.xml", FileFormat.camt053, "wrong_format"),
])
def test_whole_file_faults_store_the_file_and_post_nothing(db, world, name, fmt, code):
    upload, _ = world.upload(name, fmt)
    done = world.process(upload.id)
    assert (done.status, done.fault_code) == (UploadStatus.rejected, code)
    assert done.fault_message
    raw = b"".join(db.scalars(sa.select(BankUploadPart.data)
                              .where(BankUploadPart.upload_id == upload.id)
                              .order_by(BankUploadPart.seq)))
    assert raw == (DATA / name).read_bytes()
    assert world.lines(upload.id) == {}
    assert all(len(payments(db, loan)) == (1 if c == CLOSED else 0)
               for c, loan in world.loans.items())


def test_declared_encoding_that_does_not_fit_is_a_whole_file_fault(db, world):
    done = world.process(world.upload("repayments-gbk.csv", encoding="utf-8")[0].id)
    assert (done.status, done.fault_code) == (UploadStatus.rejected, "bad_encoding")


@pytest.mark.parametrize("name", ["xxe.xml", "billion-laughs.xml"])
def test_malicious_xml_is_refused_without_reading_or_expanding(db, world, name):
    started = time.perf_counter()
    done = world.process(world.upload(name, FileFormat.camt053)[0].id)
    assert time.perf_counter() - started < 5
    assert (done.status, done.fault_code) == (UploadStatus.rejected, "unsafe_xml")
    assert "DTD" in done.fault_message
    assert db.scalar(sa.select(sa.func.count()).select_from(BankLine)) == 0


EXPECTED_BAD_LINES = {
    1: (Outcome.posted, None),
    2: (Outcome.exception, "unknown_contract"),
    3: (Outcome.exception, "id_mismatch"),
    4: (Outcome.exception, "other_bank"),
    5: (Outcome.exception, "bad_amount"),
    6: (Outcome.exception, "bad_amount"),
    7: (Outcome.exception, "bad_date"),
    8: (Outcome.exception, "bad_date"),
    9: (Outcome.exception, "future_date"),
    10: (Outcome.duplicate, "duplicate"),
    11: (Outcome.duplicate, "duplicate"),
    12: (Outcome.exception, "unknown_reversal"),
    13: (Outcome.held, "loan_closed"),
    14: (Outcome.exception, "malformed"),
    15: (Outcome.exception, "malformed"),
    16: (Outcome.exception, "malformed"),
}


def test_every_kind_of_bad_line(db, world):
    world.process(world.upload("repayments-utf8.csv")[0].id)
    done = world.process(world.upload("bad-lines.csv")[0].id)
    lines = world.lines(done.id)
    assert {n: (x.outcome, x.reason) for n, x in lines.items()} == EXPECTED_BAD_LINES
    assert all(x.exception_status == "open" for n, x in lines.items() if n != 1)
    report = upload_report(db, done)
    assert (report["posted"], report["amount_posted"], report["held"], report["amount_held"],
            report["duplicates"], report["exceptions"]) == (1, "100.00", 1, "250.00", 2, 12)
    assert report["exceptions_by_reason"]["malformed"] == {"count": 3, "amount": "160.00"}
    world.apply()
    # The closed loan keeps its money as unapplied, through the engine.
    closed = run_loan(db, world.loans[CLOSED], BUSINESS_DATE)
    assert closed.payments[-1].to_unapplied == Decimal("250.00")
    assert engine_balances(closed)["unapplied_funds"] == Decimal("-250.00")
    assert_ledger_sound(db)


def test_an_amount_no_money_column_holds_is_a_bad_amount_line(db, world):
    """Seventeen digits parse as a decimal but fit no NUMERIC(18, 2): the line
    is an exception, and the file's other lines post (the chunk's bulk insert
    would otherwise fail whole, at every retry)."""
    head = "bank_txn_id,contract_no,id_number,amount,value_date,type,reverses\n"
    body = (f"BIG1,{A},11010519491231002X,12345678901234567.00,2027-01-20,REPAY,\n"
            f"BIG2,{A},11010519491231002X,1E+20,2027-01-20,REPAY,\n"
            f"BIG3,{A},11010519491231002X,9999999999999999.99,2027-01-20,REVERSAL,BIG9\n"
            f"OK1,{A},11010519491231002X,100.00,2027-01-20,REPAY,\n")
    done = world.process(world.upload((head + body).encode())[0].id)
    assert done.status == UploadStatus.done
    lines = world.lines(done.id)
    assert {n: (x.outcome, x.reason) for n, x in lines.items()} == {
        1: (Outcome.exception, "bad_amount"), 2: (Outcome.exception, "bad_amount"),
        3: (Outcome.exception, "unknown_reversal"), 4: (Outcome.posted, None)}
    assert "too large" in lines[1].message and lines[1].amount is None
    if db.get_bind().dialect.name == "postgresql":  # SQLite keeps 15 digits (REAL)
        # Written through COPY as the Decimal it is, never as a float (1e+16).
        assert lines[3].amount == Decimal("9999999999999999.99")


def test_a_backdated_value_date_recomputes_the_loan(db, world, set_today):
    """A payment dated before the loan was last serviced reduces the interest of
    the days after it: the engine reruns from the first event."""
    loan = world.loans[A]
    from app.servicing.service import record_event, service_loan

    plan = {"grace_months": 12, "term_months": 72, "frequency": "monthly",
            "method": "equal_installment"}
    set_today("2026-06-30")
    record_event(db, world.operator, loan, kind=EventKind.plan, event_date=dt.date(2026, 6, 30),
                 data=plan)
    record_event(db, world.operator, loan, kind=EventKind.graduation,
                 event_date=dt.date(2026, 6, 30))
    set_today(BUSINESS_DATE)
    service_loan(db, loan, through=BUSINESS_DATE, posted_by="test")
    interest_before = run_loan(db, loan, BUSINESS_DATE).bills[-1].interest
    text = ("bank_txn_id,contract_no,id_number,amount,value_date,type,reverses\n"
            f"K1,{A},11010519491231002X,3000.00,2026-07-01,REPAY,\n").encode()
    world.process(world.upload(text)[0].id)
    world.apply()
    machine = run_loan(db, loan, BUSINESS_DATE)
    assert machine.payments[0].date == dt.date(2026, 7, 1)
    assert machine.bills[-1].interest < interest_before
    assert_ledger_sound(db)


def test_the_bank_files_job_processes_pending_uploads(db, world, connection):
    from jobs import daily, runner
    from jobs.bankfiles import NAME
    from jobs.models import RunStatus

    ids = [world.upload(name)[0].id for name in ("repayments-utf8.csv", "trailer-mismatch.csv")]
    factory = make_session_factory(connection, join_transaction_mode="create_savepoint")
    [run] = runner.run_dates(factory, NAME, [BUSINESS_DATE])
    # Planning checks both: the second is rejected then, so only the first has a chunk.
    assert (run.status, run.chunks_total, run.items) == (RunStatus.done, 1, 3), run.error
    db.expire_all()
    assert [world.process(i).status for i in ids] == [UploadStatus.done, UploadStatus.rejected]
    assert payments(db, world.loans[A]) == []
    [run] = runner.run_dates(factory, daily.NAME, [BUSINESS_DATE])  # after bank_files
    assert run.status == RunStatus.done, run.error
    db.expire_all()
    assert len(payments(db, world.loans[A])) == 2
    assert_ledger_sound(db)


def test_a_file_of_several_parts_is_stored_encrypted_and_read_back_whole(db, world):
    """Parts are stored encrypted (through the driver's pipeline on PostgreSQL)
    and read back (in binary there) byte for byte, in order."""
    from app.bankfiles.storage import PART_BYTES, open_raw

    data = bytes(range(256)) * (PART_BYTES * 5 // 2 // 256) + b"tail"
    upload, created = world.upload(data)
    stored = db.scalars(sa.select(sa.type_coerce(BankUploadPart.data, sa.LargeBinary))
                        .where(BankUploadPart.upload_id == upload.id)
                        .order_by(BankUploadPart.seq)).all()
    assert created and len(stored) == 3
    assert all(bytes(data[i * PART_BYTES:(i + 1) * PART_BYTES]) not in bytes(part)
               for i, part in enumerate(stored))  # ciphertext, not the bytes
    # Sealed (AES-GCM): the bytes, no base64, after a header ("\0G1" and a 4-byte
    # key id) and a 12-byte nonce, before a 16-byte tag.
    overhead = len(SEALED) + 4 + 12 + 16
    assert [bytes(part)[:3] for part in stored] == [SEALED] * 3
    assert [len(part) for part in stored] == [PART_BYTES + overhead] * 2 + [
        len(data) % PART_BYTES + overhead]
    with open_raw(db, upload.id) as raw:
        assert raw.read() == data


def test_a_banks_uploads_are_posted_in_the_order_they_came(db, world, monkeypatch):
    """A bank's later file is posted only after its earlier ones: taken first,
    it is refused (409 ``earlier_upload``, nothing of it posted); in order,
    its reversal finds the earlier file's payment."""
    from app.bankfiles import processing
    from app.errors import Conflict

    monkeypatch.setattr(processing, "EARLIER_CHUNK_WAIT", 0.2)
    head = "bank_txn_id,contract_no,id_number,amount,value_date,type,reverses\n"
    first, _ = world.upload(
        f"{head}P1,{A},11010519491231002X,100.00,2027-01-20,REPAY,\n".encode())
    second, _ = world.upload(
        f"{head}R1,{A},11010519491231002X,100.00,2027-01-21,REVERSAL,P1\n".encode())
    with pytest.raises(Conflict) as refused:
        world.process(second.id)
    assert refused.value.code == "earlier_upload"
    assert f"upload {first.id} of the same bank" in refused.value.message
    assert world.lines(second.id) == {}
    assert world.process(first.id).status == UploadStatus.done
    assert world.process(second.id).status == UploadStatus.done
    [reversal] = world.lines(second.id).values()
    assert (reversal.outcome, reversal.reason) == (Outcome.posted, None)


def test_a_file_whose_chunks_name_one_transaction_posts_them_in_turn(
        db, connection, world, monkeypatch):
    """A plain file whose chunks share a transaction (its payment in the first
    chunk, a reversal and a repeat of it in the last) is cut all the same,
    its chunks to go in turn: the last taken first is refused (409
    ``earlier_chunk``, nothing of it posted); in turn, each committed on its
    own, the reversal finds the payment and the repeat is its duplicate."""
    from app.bankfiles import processing
    from app.bankfiles.models import BankUpload, BankUploadChunk, Reason
    from app.db import session_scope
    from app.errors import Conflict

    monkeypatch.setattr(processing, "EARLIER_CHUNK_WAIT", 0.2)
    head = "bank_txn_id,contract_no,id_number,amount,value_date,type,reverses\n"
    pay = f"P1,{A},11010519491231002X,100.00,2027-01-20,REPAY,\n"
    fillers = [f"F{n},{B},44010620000101123X,1.00,2027-01-20,REPAY,\n" for n in range(3)]
    reversal = f"R1,{A},11010519491231002X,100.00,2027-01-21,REVERSAL,P1\n"
    upload, _ = world.upload((head + pay + "".join(fillers) + reversal + pay).encode())
    factory = make_session_factory(connection, join_transaction_mode="create_savepoint")
    with session_scope(factory) as session:
        processing.check_upload(session, upload.id, 2)
    db.expire_all()
    assert db.get(BankUpload, upload.id).chunks_in_turn is True
    chunks = db.scalars(sa.select(BankUploadChunk).where(BankUploadChunk.upload_id == upload.id)
                        .order_by(BankUploadChunk.seq)).all()
    assert [(c.first_line, c.last_line) for c in chunks] == [(1, 2), (3, 4), (5, 6)]
    with pytest.raises(Conflict) as refused, session_scope(factory) as session:
        processing.post_chunk(session, chunks[2].id, business_date=BUSINESS_DATE)
    assert refused.value.code == "earlier_chunk"
    assert f"chunk 3 of upload {upload.id} comes after its chunk 1" in refused.value.message
    assert world.lines(upload.id) == {}
    assert world.process(upload.id).status == UploadStatus.done
    assert all(c.done_at is not None for c in db.scalars(
        sa.select(BankUploadChunk).where(BankUploadChunk.upload_id == upload.id)))
    outcomes = {n: (x.outcome, x.reason) for n, x in world.lines(upload.id).items()}
    assert outcomes == {1: (Outcome.posted, None), 2: (Outcome.posted, None),
                        3: (Outcome.posted, None), 4: (Outcome.posted, None),
                        5: (Outcome.posted, None), 6: (Outcome.duplicate, Reason.duplicate)}
