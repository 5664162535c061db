"""Processing an upload: the whole-file check, then its lines in chunks.

Each chunk is one transaction: its lines' outcome rows, the loan events they
post, the servicing of every loan they touch (in bulk, ``service_loans``:
each loan's saved machine runs on with the new payments, or, for a value
date before it, the engine re-runs from the first event and the ledger
difference is booked by reversal and repost) and the upload's
``lines_done`` cursor.  A process killed part-way loses at most the open
chunk; running the processing again skips the lines already done and
finishes the file.  ``(bank_id, txn_key)`` being unique,
nothing can post a bank transaction twice, even two runners at once (the
upload row is locked for each chunk, so a second runner waits, then skips).

A payment or reversal is never refused by the servicing rules (only status
and plan events are), so a chunk cannot be blocked by one of its loans.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from app import clock
from app.audit.service import record, snapshot
from app.auth.principal import Principal
from app.bankfiles import parsers
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
from app.bankfiles.storage import open_raw
from app.db import session_scope
from app.errors import DomainError, NotFound
from app.money import parse_amount
from app.origination.contracts import confirm_disbursement
from app.servicing.batch import service_loans
from app.servicing.models import Borrower, EventKind, Loan, LoanEvent
from app.servicing.service import record_event

CHUNK_LINES = 500
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

def job_principal(upload_id: int) -> Principal:
    return Principal.operator(f"bankfiles job (upload {upload_id})")


def process_upload(
    session_factory: sessionmaker[Session], upload_id: int, *, business_date: dt.date,
    chunk_lines: int = CHUNK_LINES,
) -> BankUpload:
    """Check the file (once) and post its lines; safe to run again after a crash."""
    with session_scope(session_factory) as session:
        upload = session.get(BankUpload, upload_id, with_for_update=True)
        if upload is None:
            raise NotFound(f"upload {upload_id} not found")
        if upload.status == UploadStatus.pending:
            _check_file(session, upload)
        if upload.status != UploadStatus.processing:
            return upload
    with session_factory() as session:
        try:
            _process_lines(session, upload_id, business_date, chunk_lines)
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


def _check_file(session: Session, upload: BankUpload) -> None:
    before = snapshot(upload)
    try:
        encoding, total = parsers.check(lambda: open_raw(session, upload.id), upload.format,
                                        upload.declared_encoding)
    except FileFault as fault:
        upload.status = UploadStatus.rejected
        upload.fault_code, upload.fault_message = fault.code, fault.message
        upload.processed_at = clock.now_utc()
        record(session, job_principal(upload.id), "bank_upload.rejected", upload, before,
               snapshot(upload))
        return
    upload.encoding, upload.lines_total = encoding, total
    upload.status = UploadStatus.processing


def _process_lines(session: Session, upload_id: int, business_date: dt.date,
                   chunk_lines: int) -> None:
    upload = session.get(BankUpload, upload_id)
    assert upload is not None
    fmt, encoding = upload.format, upload.encoding
    session.commit()
    batches = parsers.records(lambda: open_raw(session, upload_id), fmt, encoding, chunk_lines)
    for batch in batches:
        if batch[-1].line_no <= upload.lines_done:
            continue
        # The row lock makes a second runner wait for this chunk, then skip it.
        upload = session.get(BankUpload, upload_id, with_for_update=True, populate_existing=True)
        todo = [r for r in batch if r.line_no > upload.lines_done]
        if todo:
            _Chunk(session, upload, business_date).run(todo)
            upload.lines_done = todo[-1].line_no
        session.commit()
        session.expunge_all()


@dataclass
class _Lookups:
    loans: dict[str, tuple[Loan, str]]  # contract_no -> (loan, borrower id number)
    claims: dict[str, BankLine]  # txn id -> the line holding it
    events: dict[str, LoanEvent]  # txn id -> payment recorded outside bank files


class _Chunk:
    """One transaction's worth of lines: judge each, post what can be posted."""

    def __init__(self, session: Session, upload: BankUpload, business_date: dt.date) -> None:
        self.session = session
        self.upload = upload
        self.business_date = business_date
        self.principal = job_principal(upload.id)
        self.touched: dict[int, Loan] = {}

    def run(self, records: list[Record]) -> None:
        self.look = self._lookups(records)
        for r in records:
            line = self.judge(r)
            self.session.add(line)
        self.session.flush()
        service_loans(self.session, list(self.touched), through=self.business_date,
                      posted_by=self.principal.user_name)
        self.session.expire_all()  # the loans' rows were written in bulk

    def _lookups(self, records: list[Record]) -> _Lookups:
        s, bank_id = self.session, self.upload.bank_id
        refs = {r.bank_txn_id for r in records} | {r.reverses for r in records}
        refs.discard("")
        contracts = {c for r in records for c in r.contract_nos}
        loans = {loan.contract_no: (loan, id_number) for loan, id_number in s.execute(
            sa.select(Loan, Borrower.id_number).join(Borrower, Borrower.id == Loan.borrower_id)
            .where(Loan.contract_no.in_(contracts)))}
        claims = {line.txn_key: line for line in s.scalars(
            sa.select(BankLine).where(BankLine.bank_id == bank_id, BankLine.txn_key.in_(refs)))}
        events = {e.external_ref: e for e in s.scalars(
            sa.select(LoanEvent).join(Loan, Loan.id == LoanEvent.loan_id)
            .where(Loan.bank_id == bank_id, LoanEvent.external_ref.in_(refs),
                   LoanEvent.kind == EventKind.payment)
            .order_by(LoanEvent.id))}
        return _Lookups(loans, claims, events)

    # -- judging one line ------------------------------------------------------

    def judge(self, r: Record) -> BankLine:
        line = BankLine(
            upload_id=self.upload.id, bank_id=self.upload.bank_id, line_no=r.line_no,
            type=r.type[:20], bank_txn_id=r.bank_txn_id[:64], contract_no=r.contract_no[:64],
            id_number=r.id_number[:64], amount_text=r.amount[:64],
            value_date_text=r.value_date[:64], reverses=r.reverses[:64],
            academic_year=r.academic_year[:20],
        )
        if r.ignored:
            return _outcome(line, Outcome.ignored, None, r.ignored)
        # Amount and date are kept whenever they read, for the report and 对账.
        try:
            line.amount = parse_amount(r.amount)
        except ValueError as exc:
            amount_error = str(exc)
        else:
            amount_error = None
        line.value_date = value_date = _parse_date(r.value_date)
        txn = r.bank_txn_id
        if not txn or len(txn) > 64:
            return _exception(line, Reason.malformed,
                              "bank_txn_id missing" if not txn else "bank_txn_id too long")
        if txn in self.look.claims or txn in self.look.events:
            first = self.look.claims.get(txn)
            where = (f"upload {first.upload_id} line {first.line_no}" if first is not None
                     else "a payment recorded through the API")
            return _exception(line, Reason.duplicate, f"bank_txn_id {txn} was taken by {where}",
                              outcome=Outcome.duplicate)
        line.txn_key = txn
        self.look.claims[txn] = line
        if r.malformed:
            return _exception(line, Reason.malformed, r.malformed)
        if r.type not in self._types():
            return _exception(line, Reason.malformed, f"unknown type {r.type!r}")
        if amount_error is not None:
            return _exception(line, Reason.bad_amount, amount_error)
        if value_date is None:
            return _exception(line, Reason.bad_date, f"not a YYYY-MM-DD date: {r.value_date!r}")
        if value_date > self.business_date:
            return _exception(line, Reason.future_date,
                              f"value date {value_date} is after the business date "
                              f"{self.business_date}")
        if r.type == "REVERSAL":
            return self._reverse(line, r)
        loan = self._loan(line, r)
        if loan is None:
            return line
        if r.type == "DISBURSEMENT":
            return self._disburse(line, r, loan)
        closed = loan.status == "closed"
        event = record_event(
            self.session, self.principal, loan, kind=EventKind.payment, event_date=value_date,
            amount=line.amount, source=f"bankfile:{self.upload.id}", external_ref=txn,
            service=False)
        line.loan_id, line.loan_event_id = loan.id, event.id
        self.touched[loan.id] = loan
        if closed:
            return _exception(line, Reason.loan_closed,
                              "the loan is closed: the money is held as unapplied",
                              outcome=Outcome.held)
        return _outcome(line, Outcome.posted, None, "")

    def _disburse(self, line: BankLine, r: Record, loan: Loan) -> BankLine:
        """Format 3: origination checks the contract year and records the
        disbursement (and services the loan); what it refuses is an exception."""
        try:
            with self.session.begin_nested():
                event = confirm_disbursement(
                    self.session, self.principal, loan=loan, academic_year=r.academic_year,
                    amount=line.amount, value_date=line.value_date, bank_txn_id=line.txn_key,
                    source=f"bankfile:{self.upload.id}")
        except DomainError as exc:
            return _exception(line, Reason.refused, f"{exc.code}: {exc.message}")
        line.loan_id, line.loan_event_id = loan.id, event.id
        return _outcome(line, Outcome.posted, None, "")

    def _types(self) -> tuple[str, ...]:
        if self.upload.format == FileFormat.disbursement_csv:
            return ("DISBURSEMENT",)
        return ("REPAY", "REVERSAL")

    def _loan(self, line: BankLine, r: Record) -> Loan | None:
        found = next((self.look.loans[c] for c in r.contract_nos if c in self.look.loans), None)
        if found is None:
            _exception(line, Reason.unknown_contract, f"no contract {r.contract_no!r}")
            return None
        loan, id_number = found
        line.contract_no = loan.contract_no
        if loan.bank_id != self.upload.bank_id:
            _exception(line, Reason.other_bank,
                       f"contract {loan.contract_no} is not serviced by this bank")
            return None
        # camt entries may not carry the payer's ID number; when given, it must match.
        if (r.id_number or self.upload.format not in parsers.CAMT) and (
                r.id_number.strip().upper() != id_number.upper()):
            _exception(line, Reason.id_mismatch,
                       f"id_number does not match the borrower of {loan.contract_no}")
            return None
        return loan

    def _reverse(self, line: BankLine, r: Record) -> BankLine:
        payment = self._payment(r.reverses)
        if payment is None:
            return _exception(line, Reason.unknown_reversal,
                              f"reverses {r.reverses!r}: no posted payment of this bank has "
                              "that bank_txn_id")
        loan = self.touched.get(payment.loan_id) or self.session.get(Loan, payment.loan_id)
        assert loan is not None
        line.loan_id = loan.id
        if self.session.scalar(sa.select(LoanEvent.id).where(
                LoanEvent.reverses_event_id == payment.id)) is not None:
            return _exception(line, Reason.already_reversed,
                              f"payment {r.reverses} is already reversed")
        if line.amount != payment.amount:
            return _exception(line, Reason.reversal_mismatch,
                              f"amount {line.amount} differs from the payment's {payment.amount}")
        if r.contract_nos and loan.contract_no not in r.contract_nos:
            return _exception(line, Reason.reversal_mismatch,
                              f"payment {r.reverses} was for contract {loan.contract_no}")
        event = record_event(
            self.session, self.principal, loan, kind=EventKind.payment_reversal,
            event_date=line.value_date, amount=payment.amount, reverses_event_id=payment.id,
            source=f"bankfile:{self.upload.id}", external_ref=line.txn_key, service=False)
        line.loan_event_id = event.id
        self.touched[loan.id] = loan
        return _outcome(line, Outcome.posted, None, "")

    def _payment(self, txn: str) -> LoanEvent | None:
        """The payment event of this bank's transaction ``txn``, if one was posted."""
        if not txn:
            return None
        claim = self.look.claims.get(txn)
        if claim is not None:
            if claim.loan_event_id is None or claim.type == "REVERSAL":
                return None
            return self.session.get(LoanEvent, claim.loan_event_id)
        return self.look.events.get(txn)


def _parse_date(text: str) -> dt.date | None:
    if not _DATE.match(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _outcome(line: BankLine, outcome: Outcome, reason: Reason | None, message: str) -> BankLine:
    line.outcome, line.reason, line.message = outcome, reason, message
    return line


def _exception(line: BankLine, reason: Reason, message: str, *,
               outcome: Outcome = Outcome.exception) -> BankLine:
    _outcome(line, outcome, reason, message)
    line.exception_status = ExceptionStatus.open
    return line
