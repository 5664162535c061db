"""Reading CSV files: text split by hand where that is what the csv module would
give, and the csv module from the first quote on, with the same lines, counts
and trailer checks either way (no database)."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from app.bankfiles import parsers
from app.bankfiles.models import FileFormat
from app.bankfiles.parsers import FileFault

HEAD = "bank_txn_id,contract_no,id_number,amount,value_date,type,reverses\r\n"
PLAIN = [f"T{n:04d},C{n},ID{n}, {n}.50 ,2027-01-20,repay,\r\n" for n in range(40)]
ODD = [
    "\r\n",  # blank
    "W1,C1,ID1,1.00,2027-01-20,REPAY,,extra\r\n",  # too many fields
    "W2,C2,ID2,2.00\r\n",  # too few, but the amount is there
    "W3,C3\r\n",  # too few, no amount
    "   \r\n",  # blank but for spaces
]
BOM = "\ufeff".encode()
QUOTED = ['Q1,"C,1",ID1,3.00,2027-01-20,REPAY,\r\n', 'Q2,"C\n2",ID2,4.00,2027-01-20,REPAY,\r\n']


def opener(text: str):
    data = text.encode()
    return lambda: io.BufferedReader(io.BytesIO(data))


def read(text: str) -> tuple[int, list[parsers.Record]]:
    count = parsers.check(opener(text), FileFormat.repayment_csv, None)[1]
    records = [r for batch in parsers.records(opener(text), FileFormat.repayment_csv,
                                              "utf-8-sig", 7) for r in batch]
    return count, records


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(parsers, "_BLOCK_CHARS", 200)  # several blocks a file


def test_plain_blocks_read_as_the_csv_module_reads_them():
    plain = HEAD + "".join(PLAIN + ODD + PLAIN)
    with_csv = HEAD + QUOTED[0] + "".join(PLAIN + ODD + PLAIN)  # csv module from line 1
    count, records = read(plain)
    csv_count, csv_records = read(with_csv)
    assert count == csv_count - 1 == 83
    assert records == [r._replace(line_no=r.line_no - 1) for r in csv_records[1:]]
    assert records[0] == parsers.Record(1, "REPAY", "T0000", ("C0",), "ID0", "0.50",
                                        "2027-01-20", "")
    assert [r.malformed for r in records[40:43]] == ["8 fields, expected 7", None, None]
    assert records[41].amount == "2.00" and records[42].amount == ""


def test_quoted_fields_after_plain_blocks():
    count, records = read(HEAD + "".join(PLAIN + QUOTED + PLAIN))
    assert count == 82
    assert [r.contract_no for r in records[40:42]] == ["C,1", "C\n2"]


@pytest.mark.parametrize("extra", ["", QUOTED[0]])
def test_the_trailer_counts_lines_and_sums_amounts(extra):
    lines = PLAIN + ODD + [extra]
    total = sum((Decimal(f"{n}.50") for n in range(40)), Decimal("0")) + 2 + (3 if extra else 0)
    count = 40 + 3 + (1 if extra else 0)
    good = HEAD + "".join(lines) + f"TRAILER,{count},{total}\r\n"
    assert read(good)[0] == count
    with pytest.raises(FileFault) as fault:
        read(HEAD + "".join(lines) + f"TRAILER,{count},{total + 1}\r\n")
    assert fault.value.code == "trailer_mismatch"
    with pytest.raises(FileFault) as fault:
        read(HEAD + f"trailer,{count},{total}\r\n" + "".join(lines))
    assert fault.value.code == "trailer_not_last"


def test_a_last_line_without_a_line_break():
    count, records = read(HEAD + "".join(PLAIN) + "Z9,C9,ID9,9.00,2027-01-20,REPAY,")
    assert count == 41 and records[-1].bank_txn_id == "Z9"


def test_columns_in_another_order_with_one_more():
    """A header may order the columns as it likes and carry more: plain blocks
    are read column by column, picking the format's columns by name."""
    order = ["note", "type", "value_date", "amount", "reverses", "id_number", "contract_no",
             "bank_txn_id"]

    def reordered(line: str) -> str:
        fields = dict(zip(HEAD.strip().split(","), line.rstrip("\r\n").split(","), strict=True))
        return ",".join(fields.get(c, "x") for c in order) + "\r\n"

    count, records = read(",".join(order) + "\r\n" + "".join(map(reordered, PLAIN)))
    assert count == 40
    assert records == read(HEAD + "".join(PLAIN))[1]
    assert records[7] == parsers.Record(8, "REPAY", "T0007", ("C7",), "ID7", "7.50",
                                        "2027-01-20", "")


def test_a_trailer_the_end_of_the_file_hides_is_still_checked(monkeypatch):
    """Amounts are tallied only when the file's end mentions a trailer; one found
    anyway (after 64 KiB of blank lines, say) has the file read again, tallying."""
    monkeypatch.setattr(parsers, "_ends_in_trailer", lambda opener: False)
    total = sum((Decimal(f"{n}.50") for n in range(40)), Decimal("0"))
    assert read(HEAD + "".join(PLAIN) + f"TRAILER,40,{total}\r\n")[0] == 40
    with pytest.raises(FileFault) as fault:
        read(HEAD + "".join(PLAIN) + f"TRAILER,40,{total - 1}\r\n")
    assert fault.value.code == "trailer_mismatch"


class _Pipe(io.RawIOBase):
    """A stream that cannot seek (a pipe, say)."""

    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self.inner.readinto(buffer)


@pytest.mark.parametrize("off_by, code", [(0, None), (1, "trailer_mismatch")])
def test_a_stream_that_cannot_seek_has_its_trailer_checked(off_by, code):
    total = sum((Decimal(f"{n}.50") for n in range(40)), Decimal("0")) + off_by
    data = (HEAD + "".join(PLAIN) + f"TRAILER,40,{total}\r\n").encode()

    def check():
        return parsers.check(lambda: io.BufferedReader(_Pipe(data)), FileFormat.repayment_csv,
                             None)

    if code is None:
        assert check()[:2] == ("utf-8-sig", 40)
    else:
        with pytest.raises(FileFault) as fault:
            check()
        assert fault.value.code == code


# -- cutting a file into chunks ---------------------------------------------------------


def cut(text: str, chunk_lines: int, encoding: str = "utf-8") -> tuple[bytes, parsers.Checked]:
    data = text.encode(encoding)
    checked = parsers.check(lambda: io.BufferedReader(io.BytesIO(data)),
                            FileFormat.repayment_csv, encoding, chunk_lines=chunk_lines)
    return data, checked


def chunk_records(data: bytes, checked: parsers.Checked) -> list[list[parsers.Record]]:
    """Each chunk's records read as processing reads them: the header's bytes,
    then the chunk's own, numbered on from the chunk's first line."""
    header = data[:checked.cuts[0][1]]
    ends = [start for _, start in checked.cuts[1:]] + [len(data)]
    out = []
    for (first, start), end in zip(checked.cuts, ends, strict=True):
        piece = header + data[start:end]
        out.append([r for batch in parsers.records(
            lambda piece=piece: io.BufferedReader(io.BytesIO(piece)), FileFormat.repayment_csv,
            checked.encoding, 1000, after=first - 1) for r in batch])
    return out


def whole_records(data: bytes, encoding: str) -> list[parsers.Record]:
    return [r for batch in parsers.records(lambda: io.BufferedReader(io.BytesIO(data)),
                                           FileFormat.repayment_csv, encoding, 1000)
            for r in batch]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
@pytest.mark.parametrize("end", ["", "TRAILER,60,1800.00\r\n"])
def test_a_plain_file_is_cut_where_its_lines_start(encoding, end):
    """Byte offsets, counted through a BOM, characters of two bytes and CRLF line
    ends: each chunk read from its own bytes gives the whole file's lines."""
    lines = [f"T{n:04d},合同-{n},ID{n},{n}.50,2027-01-20,REPAY,\r\n" for n in range(60)]
    data, checked = cut(HEAD + "".join(lines) + end, 25, encoding)
    assert checked.lines == 60
    assert [first for first, _ in checked.cuts] == [1, 26, 51]
    assert data[checked.cuts[1][1]:].startswith("T0025,合同-25".encode(encoding).lstrip(BOM))
    chunks = chunk_records(data, checked)
    assert [len(c) for c in chunks] == [25, 25, 10]
    assert [r for c in chunks for r in c] == whole_records(data, checked.encoding)
    assert chunks[1][0] == parsers.Record(26, "REPAY", "T0025", ("合同-25",), "ID25", "25.50",
                                          "2027-01-20", "")


TIES = {
    "a transaction id repeated in a later chunk": (30, "T0003,C9,ID9,1.00,2027-01-20,REPAY,"),
    "a reversal of a payment in an earlier chunk": (
        30, "R1,C3,ID3,3.50,2027-01-20,REVERSAL,T0003"),
    "a reversal of a payment in a later chunk": (2, "R1,C35,ID35,35.50,2027-01-20,REVERSAL,T0035"),
    "two reversals of one payment in two chunks": (
        2, "R1,C35,ID35,35.50,2027-01-20,REVERSAL,X9", 30,
        "R2,C35,ID35,35.50,2027-01-20,REVERSAL,X9"),
}


@pytest.mark.parametrize("tie", TIES.values(), ids=TIES.keys())
def test_chunks_naming_one_transaction_go_in_turn(tie):
    """Cut all the same (each chunk read from its own bytes gives the file's
    lines), but to be posted each after the one before."""
    lines = [line.removesuffix("\r\n") for line in PLAIN]
    for at, line in zip(tie[::2], tie[1::2], strict=True):
        lines.insert(at, line)
    data, checked = cut(HEAD + "\n".join(lines) + "\n", 20)
    assert checked.in_turn is True
    assert [first for first, _ in checked.cuts] == [1, 21, 41]
    chunks = chunk_records(data, checked)
    assert [r for c in chunks for r in c] == whole_records(data, checked.encoding)


def test_ties_within_one_chunk_leave_it_cut():
    lines = ([line.removesuffix("\r\n") for line in PLAIN[:10]]
             + ["T0003,C9,ID9,1.00,2027-01-20,REPAY,", "R1,C3,ID3,3.50,2027-01-20,REVERSAL,T0003"]
             + [line.removesuffix("\r\n") for line in PLAIN[10:]])
    _, checked = cut(HEAD + "\n".join(lines) + "\n", 20)
    assert [first for first, _ in checked.cuts] == [1, 21, 41]
    assert checked.in_turn is False  # its chunks go at once


@pytest.mark.parametrize("odd", [QUOTED[0], "\r\n", ODD[1], ODD[2]],
                         ids=["quoted", "blank line", "too many fields", "too few fields"])
def test_a_file_not_one_record_a_line_is_not_cut(odd):
    _, checked = cut(HEAD + "".join(PLAIN[:30] + [odd] + PLAIN[30:]), 20)
    assert checked.lines in (40, 41) and (checked.cuts, checked.in_turn) == (None, False)


def test_a_file_of_one_chunk_is_not_cut():
    _, checked = cut(HEAD + "".join(PLAIN), 40)
    assert checked.cuts is None


def test_a_disbursement_file_is_not_cut():
    """Its lines record loan events through origination, one after the other."""
    head = ",".join(parsers.DISBURSEMENT_COLUMNS) + "\n"
    lines = "".join(f"D{n},C{n},ID{n},2026-2027,100.00,2026-09-01\n" for n in range(40))
    data = (head + lines).encode()
    checked = parsers.check(lambda: io.BufferedReader(io.BytesIO(data)),
                            FileFormat.disbursement_csv, None, chunk_lines=10)
    assert (checked.lines, checked.cuts) == (40, None)
