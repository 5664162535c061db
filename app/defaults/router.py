"""Delinquency, default reports, the default and publication lists over HTTP."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from app import clock
from app.auth.deps import CurrentPrincipal
from app.auth.scope import get_visible, require_role
from app.defaults import exports, reports, service
from app.defaults.figures import Filters
from app.defaults.models import DefaultReport
from app.defaults.schemas import (
    AgingLine,
    DefaultListPage,
    DefaultReportIn,
    DefaultReportOut,
    Delinquency,
    ForgivenessIn,
    ForgivenLine,
    PerformanceLine,
    PublicationItem,
    SnapshotIn,
    SnapshotOut,
    StaffRatioLine,
)
from app.deps import DbSession
from app.money import ZERO
from app.privacy.masking import mask_id_number
from app.schemas_common import AcademicYear
from app.servicing.models import EventKind, Loan, LoanEvent
from app.servicing.schemas import LoanEventOut

router = APIRouter(tags=["defaults"])

AsOf = Annotated[dt.date | None, Query(description="business date; default today")]
Format = Literal["json", "csv", "xlsx"]


def _file_response(write: Any, filename: str, media_type: str) -> StreamingResponse:
    """Write the table to a spooled file inside the request (the session is
    open), then stream it: memory stays flat for a national list."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 (closed by chunks)
    write(spool)
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        with spool:
            while chunk := spool.read(1 << 16):
                yield chunk

    return StreamingResponse(chunks(), media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/loans/{loan_id}/delinquency", response_model=Delinquency)
def loan_delinquency(session: DbSession, principal: CurrentPrincipal, loan_id: int,
                     as_of: AsOf = None) -> dict[str, Any]:
    """Days past due, bucket, arrears run, overdue amounts on ``as_of`` (engine)."""
    return service.delinquency(session, principal, loan_id, as_of or clock.today())


@router.get("/loans/{loan_id}/contacts", response_model=list[LoanEventOut])
def list_contacts(session: DbSession, principal: CurrentPrincipal, loan_id: int
                  ) -> list[LoanEvent]:
    """Contacts recorded by the bank; only borrower-initiated ones count for default."""
    loan = get_visible(session, principal, Loan, loan_id)
    return list(session.scalars(
        sa.select(LoanEvent).where(LoanEvent.loan_id == loan.id,
                                   LoanEvent.kind == EventKind.contact)
        .order_by(LoanEvent.event_date, LoanEvent.id)))


@router.post("/loans/{loan_id}/default-reports", status_code=201,
             response_model=DefaultReportOut)
def report_default(session: DbSession, principal: CurrentPrincipal, loan_id: int,
                   body: DefaultReportIn) -> DefaultReport:
    """The bank reports the borrower to the center (refused unless reportable that day)."""
    return service.report_default(session, principal, loan_id, reported_on=body.reported_on)


@router.get("/default-reports", response_model=list[DefaultReportOut])
def list_default_reports(
    session: DbSession, principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DefaultReport]:
    return service.list_reports(session, principal, limit=limit, offset=offset)


@router.get("/default-list", response_model=DefaultListPage,
            responses={200: {"content": {"text/csv": {}, exports.XLSX_TYPE: {}}}})
def default_list(
    session: DbSession, principal: CurrentPrincipal, as_of: AsOf = None,
    university_id: int | None = None, bank_id: int | None = None,
    graduation_year: Annotated[int | None, Query(ge=1990, le=2200)] = None,
    format: Format = "json",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    """Reportable defaults (servicing-rules.md §8) on ``as_of`` that the caller may
    see: JSON pages, or the whole list as CSV or Excel with a totals line."""
    day = as_of or clock.today()
    rows = service.default_list(session, principal, as_of=day,
                                filters=Filters(university_id, bank_id, graduation_year))
    name = f"default-list-{day.isoformat()}"
    if format == "csv":
        return _file_response(lambda out: exports.write_csv(rows, out), f"{name}.csv",
                              "text/csv; charset=utf-8")
    if format == "xlsx":
        return _file_response(lambda out: exports.write_xlsx(rows, out, title=name),
                              f"{name}.xlsx", exports.XLSX_TYPE)
    total, items = 0, []
    sums = dict.fromkeys(exports.MONEY_KEYS, ZERO)
    for row in rows:
        values = exports.row_values(row)
        if offset <= total < offset + limit:
            items.append(values)
        total += 1
        for key in exports.MONEY_KEYS:
            sums[key] += values[key]
    return {"as_of": day, "total": total, "limit": limit, "offset": offset,
            "totals": {"loans": total, **sums}, "items": items}


@router.get("/publication-list", response_model=list[PublicationItem])
def publication_list(session: DbSession, principal: CurrentPrincipal, as_of: AsOf = None
                     ) -> list[dict[str, Any]]:
    """Defaulters reported by their bank and not cured on ``as_of`` (center staff)."""
    day = as_of or clock.today()
    out = []
    for row, reported_on in service.publication_list(session, principal, as_of=day):
        f = row.facts
        out.append({
            "borrower_name": row.borrower_name,
            "id_number_masked": mask_id_number(row.id_number),
            "university_name": row.university_name, "reported_on": reported_on,
            "arrears_days": f.arrears_days, "days_past_due": f.days_past_due,
            "overdue_principal": f.overdue_principal, "overdue_interest": f.overdue_interest,
            "penalty_accrued": f.penalty_accrued, "overdue_total": f.overdue_total,
        })
    return out


@router.post("/default-snapshots", status_code=201, response_model=SnapshotOut)
def take_snapshot(session: DbSession, principal: CurrentPrincipal, body: SnapshotIn
                  ) -> dict[str, Decimal | int | dt.date]:
    """Freeze the default list of a business date (what the nightly job does)."""
    require_role(principal)  # admin only
    loans = service.take_default_snapshot(session, business_date=body.business_date)
    return {"business_date": body.business_date, "loans": loans}


@router.post("/loans/{loan_id}/forgiveness", status_code=201, response_model=LoanEventOut)
def forgive(session: DbSession, principal: CurrentPrincipal, loan_id: int, body: ForgivenessIn
            ) -> LoanEvent:
    """代偿 approved by the center: the state pays the loan off from the forgiveness fund."""
    return service.forgive(session, principal, loan_id, approved_on=body.approved_on,
                           case_reference=body.case_reference)


@router.get("/reports/aging", response_model=list[AgingLine])
def aging(session: DbSession, principal: CurrentPrincipal, as_of: AsOf = None,
          by: Literal["bank", "university", "center"] = "university") -> list[dict[str, Any]]:
    """Delinquent loans by bucket (1-30 … >365) per bank, university or center."""
    lines = reports.aging(session, principal, as_of=as_of or clock.today(), by=by)
    return [line | {"key_id": line[f"{by}_id"]} for line in lines]


@router.get("/reports/university-performance", response_model=list[PerformanceLine])
def university_performance(session: DbSession, principal: CurrentPrincipal, as_of: AsOf = None,
                           university_id: int | None = None) -> list[reports.Performance]:
    """Default rate by count and amount per university and graduation cohort."""
    return reports.university_performance(session, as_of=as_of or clock.today(),
                                          principal=principal, university_id=university_id)


@router.get("/reports/forgiveness", response_model=list[ForgivenLine])
def forgiven(session: DbSession, principal: CurrentPrincipal, as_of: AsOf = None
             ) -> list[dict[str, Any]]:
    """Amounts paid off by the state (代偿) per university, from the ledger."""
    return reports.forgiven(session, principal, through=as_of or clock.today())


@router.get("/monitoring/staff-ratio", response_model=list[StaffRatioLine])
def staff_ratio(session: DbSession, principal: CurrentPrincipal, academic_year: AcademicYear
                ) -> list[dict[str, Any]]:
    """Full-time aid staff per university against 1 per 2500 full-time students."""
    return reports.staff_ratio(session, principal, academic_year=academic_year)


@router.get("/reports/credit", responses={200: {"content": {"text/csv": {}}}})
def credit_report(
    session: DbSession, principal: CurrentPrincipal,
    month: Annotated[str, Query(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$", examples=["2025-01"])],
) -> StreamingResponse:
    """The monthly loan-level credit-reporting (征信) file; layout in docs/credit-reporting.md."""
    year, mon = (int(part) for part in month.split("-"))
    lines = reports.credit_report(session, principal, year=year, month=mon)

    def write(out: IO[bytes]) -> None:
        exports.write_lines([reports.CREDIT_COLUMNS, *lines], out)

    return _file_response(write, f"credit-{month}.csv", "text/csv; charset=utf-8")
