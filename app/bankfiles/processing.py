"""Processing an upload: the whole-file check, then its lines in chunks.

Each chunk is one transaction: its lines are judged against a few bulk
lookups (``app.bankfiles.judging``), written with one bulk insert (``COPY``
on PostgreSQL), the money of its posted repayments and reversals receipted
in the ledger (one entry per value date, ``app.servicing.receipts``), one
audit record names its line range, and the upload's ``lines_done`` cursor
moves past it.  No loan event is recorded and no engine runs here: a posted
line waits, matched to its loan, until the loan is next serviced (the
nightly job, after the bank files job), when ``app.bankfiles.application``
records its loan event and the engine applies it — cash posting now,
payment application at night.  Disbursement confirmations (small files)
are recorded line by line through origination, which services the loan.

A process killed part-way loses at most the open chunk; running the
processing again skips the lines already done and finishes the file.
``(bank_id, txn_key)`` being unique, nothing can post a bank transaction
twice; the upload's row is locked for each chunk (a second runner of the
upload waits, then skips what the first did) and so is the bank's (runners
of two uploads of one bank judge their chunks in turn, each seeing the
other's transactions).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from app import clock
from app.audit.service import record, snapshot
from app.auth.principal import Principal
from app.bankfiles import parsers
from app.bankfiles.judging import POSTED_COLUMNS, Judge, Line, LoanRef, find_loans
from app.bankfiles.models import (
    BankLine,
    BankUpload,
    ExceptionStatus,
    FileFormat,
    Outcome,
    Reason,
    UploadStatus,
)
from app.bankfiles.parsers import FileFault, Record
from app.bankfiles.storage import local_copy
from app.config import get_settings
from app.db import copy_rows, row_writer, session_scope
from app.errors import DomainError, NotFound
from app.ledger.service import NewEntry, post
from app.memory import cycle_collection_paused
from app.money import ZERO, fmt
from app.origination.contracts import confirm_disbursement
from app.reference.models import Bank
from app.servicing.models import Loan
from app.servicing.receipts import receipt_entry


def job_principal(upload_id: int) -> Principal:
    return Principal.operator(f"bankfiles job (upload {upload_id})")


def process_upload(
    session_factory: sessionmaker[Session], upload_id: int, *, business_date: dt.date,
    chunk_lines: int | None = None, reads: Engine | Connection | None = None,
) -> BankUpload:
    """Check the file (once) and post its lines; safe to run again after a crash.

    ``reads``: what the look-ahead may read the loans through, when not the
    sessions' own bind (``_loans_ahead``): the ``bank_files`` job's sessions
    are joined to its runner's connection, yet in production that runner's
    bind is an engine, whose other connections see the same loans."""
    chunk_lines = chunk_lines or get_settings().bankfile_chunk_lines
    with ExitStack() as stack:
        with session_scope(session_factory) as session:
            upload = session.get(BankUpload, upload_id, with_for_update=True)
            if upload is None:
                raise NotFound(f"upload {upload_id} not found")
            if upload.status not in (UploadStatus.pending, UploadStatus.processing):
                return upload
            opener = stack.enter_context(local_copy(session, upload_id))
            if upload.status == UploadStatus.pending:
                _check_file(session, upload, opener)
            if upload.status != UploadStatus.processing:
                return upload
        return _finish(session_factory, upload_id, opener, business_date, chunk_lines, reads)


def _finish(session_factory: sessionmaker[Session], upload_id: int, opener: parsers.Opener,
            business_date: dt.date, chunk_lines: int,
            reads: Engine | Connection | None) -> BankUpload:
    """Post the lines not yet done, then mark the upload done."""
    with session_factory() as session, cycle_collection_paused():
        try:
            _process_lines(session, upload_id, opener, business_date, chunk_lines,
                           reads or session.get_bind())
            upload = session.get(BankUpload, upload_id, with_for_update=True,
                                 populate_existing=True)
            if upload.status == UploadStatus.processing:
                before = snapshot(upload)
                upload.status = UploadStatus.done
                upload.processed_at = clock.now_utc()
                record(session, job_principal(upload_id), "bank_upload.processed", upload,
                       before, snapshot(upload))
            session.commit()
        except BaseException:
            session.rollback()
            raise
    return upload


def process_pending(
    session_factory: sessionmaker[Session], business_date: dt.date
) -> list[int]:
    """The scheduler's entry point: process every upload not yet finished, oldest first."""
    with session_scope(session_factory) as session:
        ids = list(session.scalars(
            sa.select(BankUpload.id).where(
                BankUpload.status.in_([UploadStatus.pending, UploadStatus.processing]))
            .order_by(BankUpload.id)
        ))
    for upload_id in ids:
        process_upload(session_factory, upload_id, business_date=business_date)
    return ids


def _check_file(session: Session, upload: BankUpload, opener: parsers.Opener) -> None:
    before = snapshot(upload)
    try:
        encoding, total = parsers.check(opener, upload.format, upload.declared_encoding)
    except FileFault as fault:
        upload.status = UploadStatus.rejected
        upload.fault_code, upload.fault_message = fault.code, fault.message
        upload.processed_at = clock.now_utc()
        record(session, job_principal(upload.id), "bank_upload.rejected", upload, before,
               snapshot(upload))
        return
    upload.encoding, upload.lines_total = encoding, total
    upload.status = UploadStatus.processing


def _process_lines(session: Session, upload_id: int, opener: parsers.Opener,
                   business_date: dt.date, chunk_lines: int,
                   reads: Engine | Connection) -> None:
    upload = session.get(BankUpload, upload_id)
    assert upload is not None
    file_format, encoding, bank_id = upload.format, upload.encoding, upload.bank_id
    done_before = upload.lines_done
    session.commit()
    batches = (batch for batch in parsers.records(opener, file_format, encoding, chunk_lines)
               if batch[-1].line_no > done_before)
    with _loans_ahead(session, batches, reads) as chunks:
        for batch, loans in chunks:
            upload = session.get(BankUpload, upload_id, with_for_update=True,
                                 populate_existing=True)
            session.execute(sa.select(Bank.id).where(Bank.id == bank_id)
                            .with_for_update(key_share=True))
            done = upload.lines_done
            todo = batch if batch[0].line_no > done else [r for r in batch if r.line_no > done]
            if todo:
                _post_chunk(session, upload, todo, loans, business_date)
                upload.lines_done = todo[-1].line_no
            session.commit()
            session.expunge_all()


@contextmanager
def _loans_ahead(session: Session, batches: Iterator[list[Record]], reads: Engine | Connection
                 ) -> Iterator[Iterator[tuple[list[Record], dict[str, LoanRef]]]]:
    """Each batch with the loans its contract numbers name.  On PostgreSQL, when
    ``reads`` is an engine (the command, the API, the ``bank_files`` job in
    production), the next batch is read and its loans found by a thread, on a
    connection of its own, while this batch is judged and written: reading
    takes the moments the writer waits for the database's ``COPY``, and the
    lookup (a third of the work of a file) costs the file no time of its own.
    Reading the loans outside the chunk's transaction changes nothing: a chunk
    records no loan event, and whatever changes a loan may do so just after a
    lookup in the same transaction too.  A connection (a test's, whose data
    no other connection sees) and SQLite do it all in turn, in the batch's
    own session."""
    if reads.dialect.name != "postgresql" or not isinstance(reads, Engine):
        yield ((batch, find_loans(session, batch)) for batch in batches)
        return

    def step() -> tuple[list[Record], dict[str, LoanRef]] | None:
        batch = next(batches, None)
        if batch is None:
            return None
        with Session(reads) as own:
            return batch, find_loans(own, batch)

    def ahead(pool: ThreadPoolExecutor) -> Iterator[tuple[list[Record], dict[str, LoanRef]]]:
        following = pool.submit(step)
        while (current := following.result()) is not None:
            following = pool.submit(step)  # one worker: the steps run in turn
            yield current

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bankfile-ahead") as pool:
        try:
            yield ahead(pool)
        finally:
            pool.shutdown(cancel_futures=True)


def _post_chunk(session: Session, upload: BankUpload, records: list[Record],
                loans: dict[str, LoanRef], business_date: dt.date) -> None:
    principal = job_principal(upload.id)
    judge = Judge(session, upload_id=upload.id, bank_id=upload.bank_id, fmt=upload.format,
                  business_date=business_date)
    judge.look_up(records, loans)
    tally = _Tally()
    if upload.format == FileFormat.disbursement_csv:
        lines = [judge.judge(r) for r in records]
        for line in lines:
            if line.outcome == Outcome.posted:
                _disburse(session, principal, upload, line)
        _write_lines(session, upload, lines)
        for x in lines:
            tally.add(x.outcome, x.type, x.value_date, x.amount)
    else:
        _stream_lines(session, upload, judge, records, tally)
    first, last = records[0].line_no, records[-1].line_no
    post(session, tally.receipts(upload.id, first, last), posted_by=principal.user_name)
    record(session, principal, "bank_upload.lines", upload, None,
           {"lines": f"{first}-{last}", **tally.summary()})


def _stream_lines(session: Session, upload: BankUpload, judge: Judge, records: list[Record],
                  tally: _Tally) -> None:
    """Judge the lines, each posted one going straight into the database (the
    insert runs while the next lines are judged); then the others, which keep
    their ID number (encrypted).  The common line, a repayment that posts, is
    taken by the judge's ``acceptor`` without building its ``Line``."""
    others = []
    upload_id, bank_id = upload.id, upload.bank_id
    repaid: defaultdict[dt.date, list[Decimal]] = defaultdict(list)
    accept = judge.acceptor(repaid)
    with row_writer(session, BankLine.__table__, POSTED_COLUMNS,
                    plain=frozenset(POSTED_COLUMNS), binary=True) as write:
        for r in records:
            row = accept(r)
            if row is not None:
                write(row)
                continue
            x = judge.judge(r)
            tally.add(x.outcome, x.type, x.value_date, x.amount)
            if not x.posted:
                others.append(x)
                continue
            write((upload_id, bank_id, x.line_no, x.type, x.bank_txn_id, x.contract_no,
                   x.amount_text, x.value_date_text, x.reverses, x.amount, x.value_date,
                   x.txn_key, x.outcome.value, x.reason and x.reason.value, x.message,
                   x.reason and ExceptionStatus.open.value, x.loan_id))
    tally.add_repaid(repaid)
    _write_lines(session, upload, others)


LINE_COLUMNS = ("upload_id", "bank_id", "line_no", "type", "bank_txn_id", "contract_no",
                "id_number", "amount_text", "value_date_text", "reverses", "academic_year",
                "amount", "value_date", "txn_key", "outcome", "reason", "message", "loan_id",
                "loan_event_id", "exception_status")


def _write_lines(session: Session, upload: BankUpload, lines: list[Line]) -> None:
    """Rows of ``bank_lines``, in one bulk insert.  A posted line keeps no ID
    number (it is its borrower's); the others keep it, encrypted."""
    copy_rows(session, BankLine.__table__, LINE_COLUMNS, [
        (upload.id, upload.bank_id, x.line_no, x.type, x.bank_txn_id, x.contract_no,
         None if x.posted else x.id_number, x.amount_text, x.value_date_text, x.reverses,
         x.academic_year, x.amount, x.value_date, x.txn_key, x.outcome, x.reason, x.message,
         x.loan_id, x.loan_event_id, x.exception_status)
        for x in lines])


class _Tally:
    """A chunk's outcomes, and the money of its posted repayments and reversals
    by value date, for its receipts and its audit record."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)
        self.by_date: dict[dt.date, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])

    def add(self, outcome: Outcome, type_: str, day: dt.date | None,
            amount: Decimal | None) -> None:
        self.counts[outcome] += 1
        if outcome in (Outcome.posted, Outcome.held) and type_ != "DISBURSEMENT":
            self.by_date[day][type_ == "REVERSAL"] += amount

    def add_repaid(self, repaid: dict[dt.date, list[Decimal]]) -> None:
        """Posted repayments taken by the acceptor: their amounts by value date."""
        for day, amounts in repaid.items():
            self.counts[Outcome.posted] += len(amounts)
            self.by_date[day][0] += sum(amounts, ZERO)

    def receipts(self, upload_id: int, first: int, last: int) -> list[NewEntry]:
        """One receipt entry per value date: what the posted repayments brought in,
        less what the reversals gave back."""
        return [entry for day, (received, returned) in sorted(self.by_date.items())
                if (entry := receipt_entry(
                    f"bankfile:{upload_id}:lines {first}-{last}:{day.isoformat()}", day,
                    received=received, returned=returned,
                    memo=f"bank file upload {upload_id}, lines {first}-{last}"))]

    def summary(self) -> dict[str, object]:
        received = sum((v[0] for v in self.by_date.values()), ZERO)
        returned = sum((v[1] for v in self.by_date.values()), ZERO)
        return {**{k.value: n for k, n in self.counts.items()}, "received": fmt(received),
                "returned": fmt(returned)}


def _disburse(session: Session, principal: Principal, upload: BankUpload, line: Line) -> None:
    """Format 3: origination checks the contract year and records the
    disbursement (and services the loan); what it refuses is an exception."""
    loan = session.get_one(Loan, line.loan_id)
    try:
        with session.begin_nested():
            event = confirm_disbursement(
                session, principal, loan=loan, academic_year=line.academic_year,
                amount=line.amount, value_date=line.value_date, bank_txn_id=line.txn_key,
                source=f"bankfile:{upload.id}")
    except DomainError as exc:
        line.loan_id = None
        line.exception(Reason.refused, f"{exc.code}: {exc.message}")
        return
    line.loan_event_id = event.id
