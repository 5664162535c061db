"""Processing an upload: the whole-file check, then its lines in chunks.

The check (``check_upload``) reads the whole file once and cuts it into
chunks of lines (``BankUploadChunk``): a plain file into chunks of
``bankfile_chunk_lines``, which may be posted at once and in any order
(several workers of the ``bank_files`` job), or each after the one before
when they name transactions in common; any other file into one chunk, its
lines posted in turn.

Each chunk is one transaction: its lines are judged in batches against a
few bulk lookups (``app.bankfiles.judging``), written with one bulk insert
(``COPY`` on PostgreSQL), the money of its posted repayments and reversals
receipted in the ledger (one entry per value date and batch,
``app.servicing.receipts``), one audit record names each batch's line
range, and the upload counts the chunk's lines done.  No loan event is
recorded and no engine runs here: a posted line waits, matched to its loan,
until the loan is next serviced (the nightly job, after the bank files
job), when ``app.bankfiles.application`` records its loan event and the
engine applies it — cash posting now, payment application at night.
Disbursement confirmations (small files) are recorded line by line through
origination, which services the loan.

A process killed part-way loses at most its open chunk; running the
processing again skips the chunks already done and finishes the file.
``(bank_id, txn_key)`` being unique, nothing can post a bank transaction
twice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app import clock
from app.audit.service import record, snapshot
from app.auth.principal import Principal
from app.bankfiles import parsers
from app.bankfiles.judging import POSTED_COLUMNS, Judge, Line, LoanRef, find_loans
from app.bankfiles.models import (
    BankLine,
    BankUpload,
    BankUploadChunk,
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
from app.errors import Conflict, DomainError, NotFound
from app.ledger.service import NewEntry, post
from app.memory import cycle_collection_paused
from app.money import ZERO, fmt
from app.origination.contracts import confirm_disbursement
from app.servicing.models import Loan
from app.servicing.receipts import receipt_entry

# How long a chunk looks for an earlier chunk (of the bank's earlier upload, or
# of its own upload going in turn) to be taken (``_after_earlier_lines``): a
# worker locks a chunk moments after claiming it, so an earlier chunk still
# unlocked after this is one nobody is posting.
EARLIER_CHUNK_WAIT = 2.0


def job_principal(upload_id: int) -> Principal:
    return Principal.operator(f"bankfiles job (upload {upload_id})")


def process_upload(
    session_factory: sessionmaker[Session], upload_id: int, *, business_date: dt.date,
    chunk_lines: int | None = None,
) -> BankUpload:
    """Check the file (once), then post its chunks not yet done, in order, each
    in a transaction of its own; safe to run again after a crash, and beside
    workers posting the same upload's chunks (a chunk done meanwhile is
    skipped)."""
    chunk_lines = chunk_lines or get_settings().bankfile_chunk_lines
    with session_scope(session_factory) as session:
        check_upload(session, upload_id, chunk_lines)
        chunks = pending_chunks(session, [upload_id])
    for chunk_id in chunks:
        with session_scope(session_factory) as session:
            post_chunk(session, chunk_id, business_date=business_date,
                       chunk_lines=chunk_lines)
    with session_factory() as session:
        return session.get_one(BankUpload, upload_id)


def process_pending(
    session_factory: sessionmaker[Session], business_date: dt.date
) -> list[int]:
    """Process every upload not yet finished, oldest first (``loans bankfiles process``)."""
    with session_scope(session_factory) as session:
        ids = unfinished_uploads(session)
    for upload_id in ids:
        process_upload(session_factory, upload_id, business_date=business_date)
    return ids


_UNFINISHED = BankUpload.status.in_([UploadStatus.pending, UploadStatus.processing])


def unfinished_uploads(session: Session) -> list[int]:
    return list(session.scalars(
        sa.select(BankUpload.id).where(_UNFINISHED).order_by(BankUpload.id)))


def pending_chunks(session: Session, upload_ids: list[int]) -> list[int]:
    """The chunks of these uploads not yet done, in file order."""
    return list(session.scalars(
        sa.select(BankUploadChunk.id).where(BankUploadChunk.upload_id.in_(upload_ids),
                                            BankUploadChunk.done_at.is_(None))
        .order_by(BankUploadChunk.upload_id, BankUploadChunk.seq)))


def check_upload(session: Session, upload_id: int, chunk_lines: int | None = None
                 ) -> BankUpload:
    """A pending upload checked: rejected, or processing with its chunks cut."""
    chunk_lines = chunk_lines or get_settings().bankfile_chunk_lines
    upload = session.get(BankUpload, upload_id, with_for_update=True)
    if upload is None:
        raise NotFound(f"upload {upload_id} not found")
    if upload.status != UploadStatus.pending:
        return upload
    before = snapshot(upload)
    try:
        with local_copy(session, upload_id) as opener:
            checked = parsers.check(opener, upload.format, upload.declared_encoding,
                                    chunk_lines=chunk_lines)
    except FileFault as fault:
        upload.status = UploadStatus.rejected
        upload.fault_code, upload.fault_message = fault.code, fault.message
        upload.processed_at = clock.now_utc()
        record(session, job_principal(upload.id), "bank_upload.rejected", upload, before,
               snapshot(upload))
        return upload
    upload.encoding, upload.lines_total = checked.encoding, checked.lines
    upload.chunks_in_turn = checked.in_turn
    upload.status = UploadStatus.processing
    cuts: list[tuple[int, int | None]] = list(checked.cuts or [(1, None)])
    lasts = [first - 1 for first, _ in cuts[1:]] + [checked.lines]
    session.add_all(BankUploadChunk(upload_id=upload_id, seq=seq, first_line=first,
                                    last_line=last, byte_start=start)
                    for seq, ((first, start), last) in enumerate(zip(cuts, lasts, strict=True), 1)
                    if last >= first)
    if checked.lines == 0:
        _finish(session, upload)
    return upload


def post_chunk(session: Session, chunk_id: int, *, business_date: dt.date,
               chunk_lines: int | None = None) -> int:
    """Post one chunk's lines (in batches of ``chunk_lines``; a cut chunk in two) in the session's
    transaction, and count them done on the upload (the last chunk done
    finishes it); the lines posted (0 for a chunk done before).

    The chunk's row is locked first: a second runner of the chunk waits, then
    finds it done; the bank's earlier uploads are finished first, and so are
    the upload's earlier chunks when they go in turn (``_after_earlier_lines``).
    A chunk cut from a plain file is read from its own bytes behind the
    file's header (``local_copy`` of those spans only)."""
    chunk_lines = chunk_lines or get_settings().bankfile_chunk_lines
    chunk = session.get(BankUploadChunk, chunk_id, with_for_update=True)
    if chunk is None or chunk.done_at is not None:
        return 0
    upload = session.get_one(BankUpload, chunk.upload_id)
    _after_earlier_lines(session, upload, chunk)
    with local_copy(session, upload.id, _spans(session, chunk)) as opener:
        # A cut chunk goes in two batches: the second is read and its loans looked
        # up (``_loans_ahead``) while the first is judged and written.
        batch = chunk_lines if chunk.byte_start is None else -(-_lines(chunk) // 2)
        batches = parsers.records(
            opener, upload.format, upload.encoding, batch, first=chunk.first_line,
            after=0 if chunk.byte_start is None else chunk.first_line - 1)
        with _loans_ahead(session, batches) as ahead, cycle_collection_paused():
            for batch, loans in ahead:
                _post_batch(session, upload, batch, loans, business_date)
    chunk.done_at = clock.now_utc()
    lines = _lines(chunk)
    session.flush()
    # Chunks done at once queue here; whoever counts the last line finishes the upload.
    session.execute(sa.update(BankUpload).where(BankUpload.id == upload.id)
                    .values(lines_done=BankUpload.lines_done + lines))
    upload = session.get_one(BankUpload, upload.id, populate_existing=True)  # row held
    if upload.lines_done >= (upload.lines_total or 0):
        _finish(session, upload)
    return lines


def _after_earlier_lines(session: Session, upload: BankUpload, chunk: BankUploadChunk) -> None:
    """A bank's uploads are posted in the order they came, so that every line is
    judged with the transactions of the bank's earlier files in (a repeated id
    is a duplicate of the first file's line, a reversal finds its payment),
    and so are an upload's chunks when they name transactions in common
    (``chunks_in_turn``): a chunk waits for the earlier chunks being posted
    (their rows' locks), and is refused while an earlier one is not done
    with nothing posting it — on PostgreSQL after ``EARLIER_CHUNK_WAIT``
    seconds of looking (workers take a run's chunks in order, so the earlier
    ones are being taken), at once on SQLite (one writer)."""
    earlier_uploads = sa.and_(BankUpload.bank_id == upload.bank_id, BankUpload.id < upload.id)
    earlier = earlier_uploads
    if upload.chunks_in_turn:
        earlier = sa.or_(earlier, sa.and_(BankUploadChunk.upload_id == upload.id,
                                          BankUploadChunk.seq < chunk.seq))
    earlier_chunks = (
        sa.select(BankUploadChunk.upload_id, BankUploadChunk.seq)
        .join(BankUpload, BankUpload.id == BankUploadChunk.upload_id)
        .where(earlier, BankUploadChunk.done_at.is_(None))
        .with_for_update(read=True, of=BankUploadChunk))
    unfinished = sa.select(BankUpload.id).where(earlier_uploads, _UNFINISHED)
    waits = session.get_bind().dialect.name == "postgresql"
    deadline = time.monotonic() + EARLIER_CHUNK_WAIT
    while True:
        # Under a savepoint rolled back at once: the share locks go with it, so a
        # worker about to post one of those chunks never waits for this one.
        savepoint = session.begin_nested()
        try:
            undone = session.execute(earlier_chunks).all()
            first = session.scalars(unfinished.order_by(BankUpload.id).limit(1)).first()
        finally:
            savepoint.rollback()
        before = min((seq for upload_id, seq in undone if upload_id == upload.id), default=None)
        if first is None and before is None:
            return
        if waits and time.monotonic() <= deadline:
            time.sleep(0.05)
            continue
        if first is not None:
            raise Conflict(f"upload {upload.id} comes after upload {first} of the same bank, "
                           "which is not posted yet: that one first", code="earlier_upload")
        raise Conflict(f"chunk {chunk.seq} of upload {upload.id} comes after its chunk {before}, "
                       "which is not posted yet: that one first", code="earlier_chunk")


def _lines(chunk: BankUploadChunk) -> int:
    return chunk.last_line - chunk.first_line + 1


def _spans(session: Session, chunk: BankUploadChunk) -> list[tuple[int, int | None]]:
    """The bytes a chunk is read from: the whole file, or the header (the bytes
    before the first chunk) and the chunk's own (up to the next chunk's)."""
    if chunk.byte_start is None:
        return [(0, None)]
    starts = dict(session.execute(
        sa.select(BankUploadChunk.seq, BankUploadChunk.byte_start).where(
            BankUploadChunk.upload_id == chunk.upload_id,
            BankUploadChunk.seq.in_([1, chunk.seq + 1]))).all())
    return [(0, starts[1]), (chunk.byte_start, starts.get(chunk.seq + 1))]


def _finish(session: Session, upload: BankUpload) -> None:
    if upload.status != UploadStatus.processing:
        return
    before = snapshot(upload)
    upload.status = UploadStatus.done
    upload.processed_at = clock.now_utc()
    record(session, job_principal(upload.id), "bank_upload.processed", upload, before,
           snapshot(upload))


@contextmanager
def _loans_ahead(session: Session, batches: Iterator[list[Record]]
                 ) -> Iterator[Iterator[tuple[list[Record], dict[str, LoanRef]]]]:
    """Each batch with the loans its contract numbers name.  On PostgreSQL, when
    the session's bind is an engine (the command, the API, the ``bank_files``
    job in production), the next batch is read and its loans found by a thread, on a
    connection of its own, while this batch is judged and written: reading
    takes the moments the writer waits for the database's ``COPY``, and the
    lookup (a third of the work of a file) costs the file no time of its own.
    Reading the loans outside the chunk's transaction changes nothing: a chunk
    records no loan event, and whatever changes a loan may do so just after a
    lookup in the same transaction too.  A connection (a test's, whose data
    no other connection sees) and SQLite do it all in turn, in the batch's
    own session."""
    reads = session.get_bind()
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


def _post_batch(session: Session, upload: BankUpload, records: list[Record],
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
