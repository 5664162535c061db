"""Tables as downloads: CSV (UTF-8 with BOM, so Excel opens Chinese names) and .xlsx.

Money is ``Decimal``: written as "93.84" in CSV and as a number with two
decimals in Excel (openpyxl stores ``Decimal`` as a numeric cell), so center
staff can sum columns.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

from fastapi import Response
from openpyxl import Workbook

from app.money import fmt

Column = tuple[str, str]  # (row key, header)
Format = Literal["json", "csv", "xlsx"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def csv_bytes(columns: Sequence[Column], rows: Sequence[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([header for _, header in columns])
    for row in rows:
        writer.writerow([_text(row[key]) for key, _ in columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(title: str, columns: Sequence[Column], rows: Sequence[dict[str, Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append([header for _, header in columns])
    for row in rows:
        sheet.append([row[key] for key, _ in columns])
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, Decimal):
                cell.number_format = "0.00"
            elif isinstance(cell.value, dt.date):
                cell.number_format = "yyyy-mm-dd"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def table_response(
    fmt_: Literal["csv", "xlsx"], filename: str, columns: Sequence[Column],
    rows: Sequence[dict[str, Any]],
) -> Response:
    """``filename`` without extension; the sheet is named after it."""
    if fmt_ == "csv":
        body, media = csv_bytes(columns, rows), "text/csv; charset=utf-8"
    else:
        body, media = xlsx_bytes(filename, columns, rows), XLSX_TYPE
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{filename}.{fmt_}"'})
