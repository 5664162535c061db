"""The default list as a table: CSV and Excel (.xlsx), streamed to a file.

Both formats are written from the same lines (header, one line per loan, a
totals line), so the workbook holds exactly the rows and totals of the CSV.
CSV: UTF-8 with a BOM (Excel opens Chinese names), amounts "1234.56".
Excel: amounts numeric cells with two decimals, ID numbers text cells (their
leading digits and trailing X survive), dates date cells; written in
openpyxl's write-only mode so memory stays flat however long the list.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from app.defaults.figures import DefaultRow
from app.money import ZERO, fmt

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# (key, header: Chinese and English)
COLUMNS: list[tuple[str, str]] = [
    ("contract_no", "合同编号 Contract no."),
    ("borrower_name", "姓名 Name"),
    ("id_number", "身份证号 ID number"),
    ("university_name", "高校 University"),
    ("bank_name", "经办银行 Bank"),
    ("graduation_year", "毕业年份 Graduation year"),
    ("arrears_run_start", "连续拖欠起始日 Arrears since"),
    ("arrears_days", "连续拖欠天数 Arrears days"),
    ("days_past_due", "逾期天数 Days past due"),
    ("overdue_principal", "逾期本金 Overdue principal"),
    ("overdue_interest", "逾期利息 Overdue interest"),
    ("penalty_accrued", "罚息复利 Penalty accrued"),
    ("overdue_total", "逾期合计 Overdue total"),
    ("principal_outstanding", "贷款余额 Principal outstanding"),
]
MONEY_KEYS = ["overdue_principal", "overdue_interest", "penalty_accrued", "overdue_total",
              "principal_outstanding"]
TOTAL_LABEL = "合计 Total"


def row_values(row: DefaultRow) -> dict[str, Any]:
    f = row.facts
    return {
        "loan_id": row.loan_id, "contract_no": row.contract_no,
        "borrower_name": row.borrower_name, "id_number": row.id_number,
        "university_id": row.university_id, "university_name": row.university_name,
        "bank_id": row.bank_id, "bank_name": row.bank_name,
        "graduation_year": row.graduated_on.year if row.graduated_on else None,
        "arrears_run_start": f.arrears_run_start, "arrears_days": f.arrears_days,
        "days_past_due": f.days_past_due, "overdue_principal": f.overdue_principal,
        "overdue_interest": f.overdue_interest, "penalty_accrued": f.penalty_accrued,
        "overdue_total": f.overdue_total, "principal_outstanding": f.principal_outstanding,
    }


def lines(rows: Iterable[DefaultRow]) -> Iterator[list[Any]]:
    """Header, one list of values per loan, then the totals line (its name
    cell holds the number of defaulters)."""
    yield [header for _, header in COLUMNS]
    count, sums = 0, dict.fromkeys(MONEY_KEYS, ZERO)
    for row in rows:
        values = row_values(row)
        count += 1
        for key in MONEY_KEYS:
            sums[key] += values[key]
        yield [values[key] for key, _ in COLUMNS]
    totals: dict[str, Any] = {"contract_no": TOTAL_LABEL, "borrower_name": count} | sums
    yield [totals.get(key) for key, _ in COLUMNS]


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def write_lines(table: Iterable[list[Any]], out: IO[bytes]) -> None:
    """CSV of ``table``'s lines: UTF-8 with BOM, amounts with two decimals."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\n")
    for line in table:
        writer.writerow([_text(v) for v in line])
    text.flush()
    text.detach()


def write_csv(rows: Iterable[DefaultRow], out: IO[bytes]) -> None:
    write_lines(lines(rows), out)


def write_xlsx(rows: Iterable[DefaultRow], out: IO[bytes], *, title: str) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    text_columns = {i for i, (key, _) in enumerate(COLUMNS) if key == "id_number"}
    for number, line in enumerate(lines(rows)):
        cells = []
        for i, value in enumerate(line):
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, Decimal):
                cell.number_format = "0.00"
            elif isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
            elif i in text_columns and number > 0:
                cell.number_format = "@"
            cells.append(cell)
        sheet.append(cells)
    book.save(out)
