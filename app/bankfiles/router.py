"""Bank files over HTTP: upload (multipart or raw body), reports, per-line CSV,
the exception queue and the daily reconciliation."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile

from app import clock
from app.auth.deps import CurrentPrincipal
from app.auth.models import Role
from app.auth.scope import get_visible, require_role, select_visible
from app.bankfiles import reconcile as recon
from app.bankfiles import scope as _scope  # noqa: F401  (registers the scope rules)
from app.bankfiles import service
from app.bankfiles.models import (
    BankLine,
    BankUpload,
    ExceptionStatus,
    FileFormat,
    Reason,
    UploadStatus,
)
from app.bankfiles.processing import process_upload
from app.bankfiles.schemas import LineOut, ResolveIn, UploadOut
from app.bankfiles.storage import spool_async
from app.deps import DbSession
from app.errors import InvalidInput, NotFound
from app.reference.models import Agreement, Bank

router = APIRouter(tags=["bank files"])


def _out(session, upload: BankUpload, *, already: bool = False) -> UploadOut:
    out = UploadOut.model_validate(upload)
    out.already_uploaded = already
    out.report = service.upload_report(session, upload)
    return out


async def _chunks(upload: UploadFile) -> Any:
    while chunk := await upload.read(256 * 1024):
        yield chunk


@router.post("/bank-files", response_model=UploadOut, status_code=201,
             responses={200: {"model": UploadOut,
                              "description": "The same bytes were uploaded before"},
                        413: {"description": "Larger than the upload limit"}})
async def upload_file(
    request: Request, response: Response, session: DbSession, principal: CurrentPrincipal,
    format: FileFormat = FileFormat.repayment_csv,
    encoding: Annotated[str | None, Query(description="CSV encoding (utf-8, gbk); "
                                                      "detected when not given")] = None,
    filename: Annotated[str, Query(max_length=255)] = "",
) -> UploadOut:
    """Upload a bank file as the raw request body (with its content type, e.g.
    ``text/csv`` or ``application/xml``), or as multipart field ``file`` (form
    fields ``format`` and ``encoding`` may accompany it); at most
    ``LOANS_MAX_UPLOAD_BYTES``.  The file is
    stored and queued for processing; the same bytes again answer 200 with the
    first upload."""
    require_role(principal, Role.bank_operator)
    # The body limit middleware refuses a larger body up front; this counts the
    # file itself (multipart framing aside) while it is spooled.
    limit = request.app.state.settings.max_upload_bytes
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise InvalidInput("multipart upload needs a file field 'file'", field="file")
        try:
            format = FileFormat(form.get("format") or format)
        except ValueError:
            raise InvalidInput(f"unknown format {form.get('format')!r}", field="format") from None
        encoding = str(form.get("encoding") or "") or encoding
        filename = filename or part.filename or ""
        spooled = await spool_async(_chunks(part), max_bytes=limit)
    else:
        spooled = await spool_async(request.stream(), max_bytes=limit)
    if spooled.size == 0:
        raise InvalidInput("the file is empty", field="file")
    with spooled.file:
        upload, created = await run_in_threadpool(
            service.create_upload, session, principal, file=spooled, format=format,
            filename=filename, encoding=encoding)
    if not created:
        response.status_code = 200
    return await run_in_threadpool(_out, session, upload, already=not created)


@router.get("/bank-files", response_model=list[UploadOut])
def list_uploads(
    session: DbSession, principal: CurrentPrincipal, status: UploadStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[BankUpload]:
    query = select_visible(principal, BankUpload)
    if status is not None:
        query = query.where(BankUpload.status == status)
    return list(session.scalars(query.order_by(BankUpload.id.desc()).limit(limit)
                                .offset(offset)))


@router.get("/bank-files/{upload_id}", response_model=UploadOut)
def get_upload(session: DbSession, principal: CurrentPrincipal, upload_id: int) -> UploadOut:
    """The upload and its report: lines read, posted, duplicates, exceptions by reason."""
    return _out(session, get_visible(session, principal, BankUpload, upload_id))


def _csv_stream(rows: Iterable[list[Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@router.get("/bank-files/{upload_id}/lines.csv", response_class=StreamingResponse)
def download_lines(
    request: Request, session: DbSession, principal: CurrentPrincipal, upload_id: int
) -> StreamingResponse:
    """Per-line results as CSV, in file order."""
    upload = get_visible(session, principal, BankUpload, upload_id)

    def rows() -> Iterator[list[Any]]:
        yield list(service.LINE_COLUMNS)
        with request.app.state.session_factory() as own:  # the request's session is closed
            yield from service.line_rows(own, upload.id)

    return StreamingResponse(
        _csv_stream(rows()), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="upload-{upload.id}-lines.csv"'})


@router.post("/bank-files/{upload_id}/process", response_model=UploadOut)
def process_now(session: DbSession, principal: CurrentPrincipal, request: Request,
                upload_id: int) -> UploadOut:
    """Process the upload now instead of waiting for the job."""
    upload = get_visible(session, principal, BankUpload, upload_id)
    require_role(principal, Role.bank_operator)
    session.commit()  # processing commits chunk by chunk in sessions of its own
    upload = process_upload(request.app.state.session_factory, upload.id,
                            business_date=clock.today())
    return _out(session, session.get(BankUpload, upload.id, populate_existing=True))


@router.get("/bank-exceptions", response_model=list[LineOut])
def list_exceptions(
    session: DbSession, principal: CurrentPrincipal, bank_id: int | None = None,
    upload_id: int | None = None, reason: Reason | None = None,
    status: ExceptionStatus | None = ExceptionStatus.open,
    value_date_from: dt.date | None = None, value_date_to: dt.date | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[BankLine]:
    """The exception queue (open ones by default), filtered."""
    query = select_visible(principal, BankLine).where(BankLine.exception_status.is_not(None))
    for column, value in ((BankLine.bank_id, bank_id), (BankLine.upload_id, upload_id),
                          (BankLine.reason, reason), (BankLine.exception_status, status)):
        if value is not None:
            query = query.where(column == value)
    if value_date_from is not None:
        query = query.where(BankLine.value_date >= value_date_from)
    if value_date_to is not None:
        query = query.where(BankLine.value_date <= value_date_to)
    return list(session.scalars(query.order_by(BankLine.id).limit(limit).offset(offset)))


@router.post("/bank-exceptions/{line_id}/resolve", response_model=LineOut)
def resolve(
    session: DbSession, principal: CurrentPrincipal, line_id: int, body: ResolveIn
) -> BankLine:
    """Assign the line to a loan (posted through the engine) or return it to the bank."""
    line = get_visible(session, principal, BankLine, line_id)
    return service.resolve_exception(session, principal, line, action=body.action,
                                     loan_id=body.loan_id, amount=body.amount,
                                     value_date=body.value_date, note=body.note)


def _reconciliation(session, principal, bank_id: int | None, day: dt.date) -> dict[str, Any]:
    require_role(principal, Role.bank_operator, Role.center_staff)
    if bank_id is None:
        if principal.bank_id is None:
            raise InvalidInput("bank_id is needed", field="bank_id")
        bank_id = principal.bank_id
    get_visible(session, principal, Bank, bank_id)
    # A center sees every bank (it tenders among them), but a bank's day only
    # if the bank serves the center under an agreement.
    if principal.role == Role.center_staff and session.scalar(
        select_visible(principal, Agreement).where(Agreement.bank_id == bank_id).limit(1)
    ) is None:
        raise NotFound(f"Bank {bank_id} not found")
    return recon.reconcile(session, bank_id=bank_id, day=day)


@router.get("/bank-reconciliation")
def reconciliation(session: DbSession, principal: CurrentPrincipal, date: dt.date,
                   bank_id: int | None = None) -> dict[str, Any]:
    """A bank's day: its files' totals against what was posted, and the difference's lines."""
    return _reconciliation(session, principal, bank_id, date)


@router.get("/bank-reconciliation.csv", response_class=StreamingResponse)
def reconciliation_csv(session: DbSession, principal: CurrentPrincipal, date: dt.date,
                       bank_id: int | None = None) -> StreamingResponse:
    report = _reconciliation(session, principal, bank_id, date)
    return StreamingResponse(
        _csv_stream(recon.reconciliation_csv_rows(report)), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition":
                 f'attachment; filename="reconciliation-{report["bank_id"]}-{date}.csv"'})



