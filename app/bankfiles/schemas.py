"""API shapes of bank files, their lines and the exception queue."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from app.bankfiles.models import ExceptionStatus, FileFormat, Outcome, Reason, UploadStatus
from app.schemas_common import PositiveMoney, RequestModel, ResponseModel


class UploadOut(ResponseModel):
    id: int
    bank_id: int
    format: FileFormat
    filename: str
    declared_encoding: str | None
    encoding: str | None
    sha256: str
    size_bytes: int
    status: UploadStatus
    fault_code: str | None
    fault_message: str | None
    lines_total: int | None
    lines_done: int
    # Its chunks name transactions in common: posted one after another, not at once.
    chunks_in_turn: bool
    uploaded_by: str
    created_at: dt.datetime
    processed_at: dt.datetime | None
    # True when these exact bytes had been uploaded before: this is that upload.
    already_uploaded: bool = False
    report: dict[str, Any] | None = None


class LineOut(ResponseModel):
    id: int
    upload_id: int
    bank_id: int
    line_no: int
    type: str
    bank_txn_id: str
    contract_no: str
    amount: PositiveMoney | None
    amount_text: str
    value_date: dt.date | None
    value_date_text: str
    reverses: str
    outcome: Outcome
    reason: Reason | None
    message: str
    loan_id: int | None
    loan_event_id: int | None
    exception_status: ExceptionStatus | None
    resolved_by: str | None
    resolved_at: dt.datetime | None
    resolution_note: str


class ResolveIn(RequestModel):
    """``assign``: post the line to ``loan_id`` (with ``amount``/``value_date`` when
    the line's own are not valid); ``return``: the money goes back to the bank."""

    action: Literal["assign", "return"]
    loan_id: int | None = None
    amount: PositiveMoney | None = None
    value_date: dt.date | None = None
    note: str = Field(default="", max_length=1000)
