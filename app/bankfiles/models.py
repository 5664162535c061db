"""Bank files: each upload as received, and what became of each of its lines.

``bank_uploads`` keeps the file's identity (bank, SHA-256, declared format)
and its processing status; the raw bytes live in ``bank_upload_parts`` (1 MiB
parts, so neither storing nor processing ever holds a whole file in memory),
encrypted at rest like every ID number (``app.privacy``), as is a line's
``id_number``.

``bank_lines`` is one row per line of a processed file: its fields as the bank
wrote them, its outcome and, for a line that could not simply be posted, its
place in the exception queue (reason, status, resolution).  A line that holds
the bank's transaction id sets ``txn_key``; ``(bank_id, txn_key)`` is unique,
so the database itself refuses to take a transaction twice, whichever file or
process it comes from.

A posted repayment or reversal line is the bank's receipt, matched to its
loan: it is written (with the chunk's receipt entry in the ledger) when the
file is processed, and stays *pending* (``loan_event_id`` null) until the
loan is next serviced, when ``app.bankfiles.application`` records its loan
event for the engine to apply.  ``ix_bank_lines_pending`` finds those lines.

A line's upload, bank, loan and loan event are not foreign keys: a file
writes a million lines by ``COPY``, and PostgreSQL's per-row foreign key
checks (a trigger, a lookup and a row lock each) cost ten times the ``COPY``
itself; even a null key queues its trigger, a fourteenth of the ``COPY``
(migrations 0013, 0014).  Lines are written only by their upload's
processing, which holds the upload's row locked and names the loans it has
just matched; a line's loan event is set only to the event just recorded
for it (``app.bankfiles.application``, an exception's resolution); uploads,
banks, loans and loan events are never deleted.  A line's ID number
is kept (encrypted) only while the line is not posted: a posted line's ID
number is its borrower's, and the raw file keeps every byte the bank sent.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now_utc
from app.db import BYTEWISE_TEXT, ID_TYPE, MONEY, Base, CreatedAt, IdPk, UTCDateTime, enum_type
from app.privacy.types import EncryptedBytes, EncryptedText


class FileFormat(enum.StrEnum):
    repayment_csv = "repayment_csv"
    camt053 = "camt053"
    camt054 = "camt054"
    disbursement_csv = "disbursement_csv"


class UploadStatus(enum.StrEnum):
    pending = "pending"  # stored, not yet looked at
    processing = "processing"  # the whole file was valid; lines are being posted
    done = "done"
    rejected = "rejected"  # a whole-file fault: nothing posted, see fault_code


class Outcome(enum.StrEnum):
    posted = "posted"  # a loan event was recorded
    held = "held"  # posted to a closed loan: the engine holds it as unapplied
    duplicate = "duplicate"  # the bank's transaction id was taken before
    exception = "exception"  # not posted; waits in the exception queue
    ignored = "ignored"  # not a repayment (a camt debit entry)


class Reason(enum.StrEnum):
    """Exception reason codes (bank-files.md "Processing rules")."""

    unknown_contract = "unknown_contract"
    id_mismatch = "id_mismatch"
    other_bank = "other_bank"
    bad_amount = "bad_amount"
    bad_date = "bad_date"
    future_date = "future_date"
    duplicate = "duplicate"
    unknown_reversal = "unknown_reversal"
    loan_closed = "loan_closed"
    # Beyond the spec's list: a line that cannot be read at all (wrong field
    # count, no transaction id, unknown type), a reversal whose payment was
    # already reversed or whose amount/contract differ from it, and a
    # disbursement confirmation the origination module refused.
    malformed = "malformed"
    already_reversed = "already_reversed"
    reversal_mismatch = "reversal_mismatch"
    refused = "refused"


class ExceptionStatus(enum.StrEnum):
    open = "open"
    assigned = "assigned"  # a person posted it to a loan
    returned = "returned"  # a person sent the money back to the bank


class BankUpload(Base):
    __tablename__ = "bank_uploads"
    __table_args__ = (sa.UniqueConstraint("bank_id", "sha256"),)

    id: Mapped[IdPk]
    bank_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("banks.id"))
    format: Mapped[FileFormat] = mapped_column(enum_type(FileFormat, "bank_file_format"))
    filename: Mapped[str] = mapped_column(sa.String(255), default="")
    # The encoding the uploader declared (CSV), and the one actually used.
    declared_encoding: Mapped[str | None] = mapped_column(sa.String(20))
    encoding: Mapped[str | None] = mapped_column(sa.String(20))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[UploadStatus] = mapped_column(
        enum_type(UploadStatus, "bank_upload_status"), default=UploadStatus.pending, index=True
    )
    fault_code: Mapped[str | None] = mapped_column(sa.String(40))
    fault_message: Mapped[str | None] = mapped_column(sa.Text)
    lines_total: Mapped[int | None] = mapped_column(sa.Integer)
    # Lines whose outcome is committed (the sum of its chunks done).
    lines_done: Mapped[int] = mapped_column(sa.Integer, default=0)
    # Its chunks name transactions in common: each is posted after the one before.
    chunks_in_turn: Mapped[bool] = mapped_column(sa.Boolean, default=False,
                                                 server_default=sa.false())
    uploaded_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[CreatedAt]
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class BankUploadPart(Base):
    """The raw bytes of an upload, in order."""

    __tablename__ = "bank_upload_parts"

    upload_id: Mapped[int] = mapped_column(
        ID_TYPE, sa.ForeignKey("bank_uploads.id"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    # It holds ID numbers.  Ciphertext does not compress: PostgreSQL stores it
    # out of line without trying to (``STORAGE EXTERNAL``, migration 0014).
    data: Mapped[bytes] = mapped_column(EncryptedBytes())


class BankUploadChunk(Base):
    """Lines ``first_line`` to ``last_line`` of a checked upload, posted in one
    transaction (a chunk of the ``bank_files`` job).  A plain file is cut into
    chunks of ``bankfile_chunk_lines``, which workers post at once, in any
    order, unless they name transactions in common: then each waits for the
    one before it (``BankUpload.chunks_in_turn``).  Any other file is one
    chunk, its lines posted in turn (``parsers._Cuts``)."""

    __tablename__ = "bank_upload_chunks"
    __table_args__ = (sa.UniqueConstraint("upload_id", "seq"),)

    id: Mapped[IdPk]
    upload_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("bank_uploads.id"))
    seq: Mapped[int] = mapped_column(sa.Integer)
    first_line: Mapped[int] = mapped_column(sa.Integer)
    last_line: Mapped[int] = mapped_column(sa.Integer)
    # Where ``first_line`` starts in the raw file; None: the file is read from its start.
    byte_start: Mapped[int | None] = mapped_column(sa.BigInteger)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


# A posted line whose loan event is not recorded yet: the next servicing applies it.
PENDING = "loan_event_id IS NULL AND outcome IN ('posted', 'held')"
_EXCEPTIONS = "exception_status IS NOT NULL"
POSTED_REVERSALS = "type = 'REVERSAL' AND outcome = 'posted'"


def _partial(name: str, *columns: str, where: str) -> sa.Index:
    return sa.Index(name, *columns, postgresql_where=sa.text(where), sqlite_where=sa.text(where))


class BankLine(Base):
    __tablename__ = "bank_lines"
    __table_args__ = (
        sa.UniqueConstraint("upload_id", "line_no"),
        sa.UniqueConstraint("bank_id", "txn_key"),
        # A day's lines (对账, by bank).  Lines arrive roughly in value-date
        # order, so on PostgreSQL a block-range index finds a day's blocks and
        # costs a file's COPY next to nothing to extend (a B-tree cost an eighth
        # of it; migration 0015); its new ranges are summarised as they fill.
        # Nothing else starts with the date; the only indexes that start with
        # bank_id are the transaction id's and two partial ones, so looking
        # transaction ids up can never turn into a scan of the bank's lines.
        sa.Index("ix_bank_lines_value_date", "value_date", postgresql_using="brin",
                 postgresql_with={"autosummarize": "on"}),
        _partial("ix_bank_lines_exception_status_reason", "exception_status", "reason",
                 where=_EXCEPTIONS),
        _partial("ix_bank_lines_pending", "loan_id", where=PENDING),
        # Whether a payment was already reversed by a line (posted, maybe pending).
        _partial("ix_bank_lines_reversals", "bank_id", "reverses", where=POSTED_REVERSALS),
    )

    id: Mapped[IdPk]
    upload_id: Mapped[int] = mapped_column(ID_TYPE)
    bank_id: Mapped[int] = mapped_column(ID_TYPE)
    line_no: Mapped[int] = mapped_column(sa.Integer)
    # The fields as the bank wrote them (cut to the column width).
    type: Mapped[str] = mapped_column(sa.String(20), default="")
    bank_txn_id: Mapped[str] = mapped_column(sa.String(64), default="")
    contract_no: Mapped[str] = mapped_column(sa.String(64), default="")
    id_number: Mapped[str | None] = mapped_column(EncryptedText())  # not posted lines only
    amount_text: Mapped[str] = mapped_column(sa.String(64), default="")
    value_date_text: Mapped[str] = mapped_column(sa.String(64), default="")
    reverses: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    academic_year: Mapped[str] = mapped_column(sa.String(20), default="", server_default="")
    # Parsed, when they parse.
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    value_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    # The bank's transaction id, when this line is the one holding it.  Ordered
    # byte by byte on PostgreSQL (collation "C", as SQLite's BINARY): equality is
    # the same, and the unique index a file's COPY extends compares bytes instead
    # of going through the locale (migration 0014).
    txn_key: Mapped[str | None] = mapped_column(BYTEWISE_TEXT)
    outcome: Mapped[Outcome] = mapped_column(enum_type(Outcome, "bank_line_outcome"))
    reason: Mapped[Reason | None] = mapped_column(enum_type(Reason, "bank_line_reason"))
    message: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    loan_id: Mapped[int | None] = mapped_column(ID_TYPE)
    loan_event_id: Mapped[int | None] = mapped_column(ID_TYPE)
    exception_status: Mapped[ExceptionStatus | None] = mapped_column(
        enum_type(ExceptionStatus, "bank_exception_status")
    )
    resolved_by: Mapped[str | None] = mapped_column(sa.String(200))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    resolution_note: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=now_utc,
                                                    server_default=sa.func.now())
