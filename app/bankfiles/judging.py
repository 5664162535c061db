"""Judging a chunk of a bank file: each line's outcome, from a few bulk lookups.

Everything a line is judged against is read once per chunk (the loans its
contract numbers name, with their borrowers' ID-number lookup hashes; the
lines and API payments holding the transaction ids it names; the payments
already reversed), so judging a line is dictionary lookups and string
checks: no ORM object, no query, no decryption (a line's ID number is
compared through its keyed hash, ``app.privacy``).  Lines judged earlier in
the chunk count as claims for later ones, so a file repeating a transaction
id takes it once.  ``acceptor`` takes the common line, a repayment that
posts, without building its ``Line``; ``judge`` decides every other.

The checks and their order (the first failing one decides): not a
transaction for us (ignored) → no usable transaction id (malformed) → the
id was taken before (duplicate) → unreadable line or unknown type
(malformed) → amount → date → future date → for a reversal, the payment it
names → the contract, its bank and its borrower's ID number → a closed loan
(held: posted, the engine holds the money as unapplied).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from itertools import repeat
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from app.bankfiles import parsers
from app.bankfiles.models import (
    POSTED_REVERSALS,
    BankLine,
    ExceptionStatus,
    FileFormat,
    Outcome,
    Reason,
)
from app.bankfiles.parsers import Record
from app.db import one_of, plain_rows, sparse_rows
from app.money import parse_amount
from app.privacy.types import lookup_hash_of
from app.servicing.models import EventKind, Loan, LoanEvent

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
POSTED = (Outcome.posted, Outcome.held)


class LoanRef(NamedTuple):
    id: int
    contract_no: str
    bank_id: int
    closed: bool
    id_hash: str


class Claim(NamedTuple):
    """A transaction id already taken: by a line, or by a payment recorded
    through the API (then ``upload_id`` is None)."""

    upload_id: int | None
    line_no: int | None
    type: str
    outcome: Outcome | None
    loan_id: int | None
    contract_no: str
    amount: Decimal | None


class Line:
    """One line's row of ``bank_lines`` while it is judged."""

    __slots__ = ("line_no", "type", "bank_txn_id", "contract_no", "id_number", "amount_text",
                 "value_date_text", "reverses", "academic_year", "amount", "value_date",
                 "txn_key", "outcome", "reason", "message", "loan_id", "loan_event_id")

    def __init__(self, r: Record) -> None:
        self.line_no = r.line_no
        self.type = r.type[:20]
        self.bank_txn_id = r.bank_txn_id[:64]
        self.contract_no = r.contract_no[:64]
        self.id_number: str | None = r.id_number[:64]
        self.amount_text = r.amount[:64]
        self.value_date_text = r.value_date[:64]
        self.reverses = r.reverses[:64]
        self.academic_year = r.academic_year[:20]
        self.amount: Decimal | None = None
        self.value_date: dt.date | None = None
        self.txn_key: str | None = None
        self.outcome: Outcome = Outcome.posted
        self.reason: Reason | None = None
        self.message = ""
        self.loan_id: int | None = None
        self.loan_event_id: int | None = None

    @property
    def posted(self) -> bool:
        return self.outcome in POSTED

    def done(self, outcome: Outcome, reason: Reason | None = None, message: str = "") -> Line:
        self.outcome, self.reason, self.message = outcome, reason, message
        return self

    def exception(self, reason: Reason, message: str, *,
                  outcome: Outcome = Outcome.exception) -> Line:
        return self.done(outcome, reason, message)

    @property
    def exception_status(self) -> ExceptionStatus | None:
        return None if self.reason is None else ExceptionStatus.open


def find_loans(session: Session, records: list[Record]) -> dict[str, LoanRef]:
    """The loans the records' contract numbers name, by contract number.

    The borrower's hash comes with the loan (``borrower_hash``, which the
    database keeps equal to the borrower's: one index probe a contract).
    Fetched all at once: iterating the result fetches row by row, which costs
    the driver several microseconds a row; and as the driver gives them
    (``plain_rows``).  The rows are LoanRef's fields in order, so each becomes
    one as it is."""
    contracts = list({c for r in records for c in r.contract_nos})
    if not contracts:
        return {}
    found = plain_rows(session, sa.select(
        Loan.id, Loan.contract_no, Loan.bank_id, Loan.status == "closed",
        Loan.__table__.c.borrower_hash)
        .where(one_of(session, Loan.contract_no, contracts)))
    return {loan.contract_no: loan for loan in map(tuple.__new__, repeat(LoanRef), found)}


# A posted line's row as ``accept`` gives it: what it leaves out has its
# column's default (no ID number, no event yet, created now).
POSTED_COLUMNS = ("upload_id", "bank_id", "line_no", "type", "bank_txn_id", "contract_no",
                  "amount_text", "value_date_text", "reverses", "amount", "value_date",
                  "txn_key", "outcome", "reason", "message", "exception_status", "loan_id")


class Judge:
    """Judges the lines of one chunk of an upload (see the module docstring)."""

    def __init__(self, session: Session, *, upload_id: int, bank_id: int, fmt: FileFormat,
                 business_date: dt.date) -> None:
        self.session = session
        self.upload_id = upload_id
        self.bank_id = bank_id
        self.fmt = fmt
        self.business_date = business_date
        self.types = ("DISBURSEMENT",) if fmt == FileFormat.disbursement_csv else (
            "REPAY", "REVERSAL")
        self.dates: dict[str, dt.date | None] = {}
        self.amounts: dict[str, tuple[Decimal | None, str | None]] = {}

    # -- the chunk's lookups ------------------------------------------------------

    def look_up(self, records: list[Record], loans: dict[str, LoanRef]) -> None:
        """Read what the chunk's lines are judged against (before judging them),
        given the loans their contract numbers name (``find_loans``)."""
        s = self.session
        txns = {r.bank_txn_id for r in records}
        reversed_refs = list({r.reverses for r in records if r.type == "REVERSAL"} - {""})
        refs = list((txns | set(reversed_refs)) - {""})
        self.loans = loans
        self.claims: dict[str, Claim | Line] = {}
        self.api_payments: dict[str, Claim] = {}
        self.reversed: set[str] = set()
        if not refs:
            return
        self.claims.update((row[0], Claim(*row[1:])) for row in sparse_rows(
            s, sa.select(BankLine.txn_key, BankLine.upload_id, BankLine.line_no, BankLine.type,
                         BankLine.outcome, BankLine.loan_id, BankLine.contract_no,
                         BankLine.amount).where(BankLine.bank_id == self.bank_id),
            BankLine.txn_key, refs, within=BankLine.bank_id == self.bank_id, bytewise=True))
        # Payments of the bank's loans recorded with these transaction ids through the
        # API (a file's own payments are found by their lines first).
        self.api_payments = {row[0]: Claim(None, None, "REPAY", Outcome.posted, *row[1:])
                             for row in sparse_rows(
                                 s, sa.select(LoanEvent.external_ref, LoanEvent.loan_id,
                                              Loan.contract_no, LoanEvent.amount)
                                 .join(Loan, Loan.id == LoanEvent.loan_id)
                                 .where(Loan.bank_id == self.bank_id,
                                        LoanEvent.kind == EventKind.payment),
                                 LoanEvent.external_ref, refs, bytewise=True)}
        if reversed_refs:
            self.reversed = self._reversed(reversed_refs)

    def _reversed(self, refs: list[str]) -> set[str]:
        """Which of these transactions' payments were reversed already: by a posted
        reversal line (applied or not), or by a reversal event."""
        s = self.session
        by_lines = s.scalars(sa.select(BankLine.reverses).where(
            BankLine.bank_id == self.bank_id, sa.text(POSTED_REVERSALS),  # the partial index's
            one_of(s, BankLine.reverses, refs)))
        payment = aliased(LoanEvent)
        by_events = s.scalars(
            sa.select(payment.external_ref)
            .join(LoanEvent, LoanEvent.reverses_event_id == payment.id)
            .join(Loan, Loan.id == payment.loan_id)
            .where(Loan.bank_id == self.bank_id, one_of(s, payment.external_ref, refs)))
        return set(by_lines) | set(by_events)

    # -- one line -----------------------------------------------------------------

    def acceptor(self, repaid: defaultdict[dt.date, list[Decimal]]
                 ) -> Callable[[Record], tuple | None]:
        """``accept(line)`` for this chunk (after ``look_up``), with what it reads
        bound once: it runs for nearly every line of a file.

        ``accept`` takes the common line cheaply: a repayment that every check
        lets through is claimed, its amount added to ``repaid`` under its value
        date, and its row of ``bank_lines`` returned (``POSTED_COLUMNS``), with
        no ``Line`` built; anything else (None) goes to ``judge``, which decides
        every other outcome.  Its checks are ``judge``'s, all passing."""
        claims, api_payments, loans = self.claims, self.api_payments, self.loans
        amounts, dates = self.amounts, self.dates
        upload_id, bank_id, business_date = self.upload_id, self.bank_id, self.business_date
        repayments = "REPAY" in self.types
        id_always = self.fmt not in parsers.CAMT
        new = tuple.__new__

        def accept(r: Record) -> tuple | None:
            (line_no, type_, txn, contract_nos, id_number, amount_text, date_text, reverses, _,
             malformed, ignored) = r
            if (type_ != "REPAY" or not repayments or ignored or malformed
                    or len(contract_nos) != 1 or not txn or len(txn) > 64
                    or txn in claims or txn in api_payments):
                return None
            amount, error = amounts.get(amount_text) or self._amount(amount_text)
            day = dates[date_text] if date_text in dates else self._date(date_text)
            if error is not None or day is None or day > business_date:
                return None
            loan = loans.get(contract_nos[0])
            if loan is None or loan.bank_id != bank_id or loan.closed or (
                    (id_number or id_always) and lookup_hash_of(id_number) != loan.id_hash):
                return None
            loan_id, contract_no, _, _, _ = loan
            claims[txn] = new(Claim, (upload_id, line_no, "REPAY", Outcome.posted, loan_id,
                                      contract_no, amount))
            repaid[day].append(amount)
            return (upload_id, bank_id, line_no, "REPAY", txn, contract_no, amount_text[:64],
                    date_text, reverses[:64], amount, day, txn, "posted", None, "", None,
                    loan_id)

        return accept

    def judge(self, r: Record) -> Line:
        line = Line(r)
        if r.ignored:
            return line.done(Outcome.ignored, None, r.ignored)
        # Amount and date are kept whenever they read, for the report and 对账.
        line.amount, amount_error = self._amount(r.amount)
        line.value_date = value_date = self._date(r.value_date)
        txn = r.bank_txn_id
        if not txn or len(txn) > 64:
            return line.exception(Reason.malformed,
                                  "bank_txn_id missing" if not txn else "bank_txn_id too long")
        taken = self.claims.get(txn) or self.api_payments.get(txn)
        if taken is not None:
            upload_id = self.upload_id if isinstance(taken, Line) else taken.upload_id
            where = (f"upload {upload_id} line {taken.line_no}"
                     if upload_id is not None else "a payment recorded through the API")
            return line.exception(Reason.duplicate, f"bank_txn_id {txn} was taken by {where}",
                                  outcome=Outcome.duplicate)
        line.txn_key = txn
        self.claims[txn] = line
        if r.malformed:
            return line.exception(Reason.malformed, r.malformed)
        if r.type not in self.types:
            return line.exception(Reason.malformed, f"unknown type {r.type!r}")
        if amount_error is not None:
            return line.exception(Reason.bad_amount, amount_error)
        if value_date is None:
            return line.exception(Reason.bad_date, f"not a YYYY-MM-DD date: {r.value_date!r}")
        if value_date > self.business_date:
            return line.exception(Reason.future_date,
                                  f"value date {value_date} is after the business date "
                                  f"{self.business_date}")
        if r.type == "REVERSAL":
            return self._reverse(line, r)
        loan = self._loan(line, r)
        if loan is None:
            return line
        line.loan_id = loan.id
        if loan.closed and r.type != "DISBURSEMENT":
            return line.exception(Reason.loan_closed,
                                  "the loan is closed: the money is held as unapplied",
                                  outcome=Outcome.held)
        return line.done(Outcome.posted)

    def _amount(self, text: str) -> tuple[Decimal | None, str | None]:
        """(amount, None) or (None, why not); a file repeats its amounts, so once each."""
        try:
            return self.amounts[text]
        except KeyError:
            try:
                found: tuple[Decimal | None, str | None] = (parse_amount(text), None)
            except ValueError as exc:
                found = (None, str(exc))
            self.amounts[text] = found
            return found

    def _date(self, text: str) -> dt.date | None:
        try:
            return self.dates[text]
        except KeyError:
            value = None
            if _DATE.fullmatch(text):
                try:
                    value = dt.date.fromisoformat(text)
                except ValueError:
                    value = None
            self.dates[text] = value
            return value

    def _loan(self, line: Line, r: Record) -> LoanRef | None:
        found = None
        for contract in r.contract_nos:
            found = self.loans.get(contract)
            if found is not None:
                break
        else:
            line.exception(Reason.unknown_contract, f"no contract {r.contract_no!r}")
            return None
        line.contract_no = found.contract_no
        if found.bank_id != self.bank_id:
            line.exception(Reason.other_bank,
                           f"contract {found.contract_no} is not serviced by this bank")
            return None
        # camt entries may not carry the payer's ID number; when given, it must match.
        if (r.id_number or self.fmt not in parsers.CAMT) and (
                lookup_hash_of(r.id_number) != found.id_hash):
            line.exception(Reason.id_mismatch,
                           f"id_number does not match the borrower of {found.contract_no}")
            return None
        return found

    def _reverse(self, line: Line, r: Record) -> Line:
        payment = self._payment(r.reverses)
        if payment is None:
            return line.exception(Reason.unknown_reversal,
                                  f"reverses {r.reverses!r}: no posted payment of this bank has "
                                  "that bank_txn_id")
        line.loan_id = payment.loan_id
        if r.reverses in self.reversed:
            return line.exception(Reason.already_reversed,
                                  f"payment {r.reverses} is already reversed")
        if line.amount != payment.amount:
            return line.exception(Reason.reversal_mismatch,
                                  f"amount {line.amount} differs from the payment's "
                                  f"{payment.amount}")
        if r.contract_nos and payment.contract_no not in r.contract_nos:
            return line.exception(Reason.reversal_mismatch,
                                  f"payment {r.reverses} was for contract {payment.contract_no}")
        self.reversed.add(r.reverses)
        return line.done(Outcome.posted)

    def _payment(self, txn: str) -> Claim | Line | None:
        """The posted payment of this bank's transaction ``txn``, if there is one."""
        if not txn:
            return None
        claim = self.claims.get(txn)
        if claim is not None:
            if claim.type == "REVERSAL" or claim.outcome not in POSTED:
                return None
            return claim
        return self.api_payments.get(txn)
