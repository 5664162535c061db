"""Reading bank files: a whole-file check, then the records in batches.

Both passes stream: CSV through the ``csv`` module, camt.053/camt.054
through defusedxml's ``iterparse`` with every finished entry removed from the
tree, so memory does not depend on the file's length.  ``check`` reads the
whole file once and raises ``FileFault`` for what rejects a whole file
(encoding, columns, trailer, format); ``records`` then yields the lines, each
to be judged on its own.

XML is parsed with DTDs forbidden outright: no external entity is ever
fetched, no entity is ever expanded (billion laughs), and the file is
rejected with a clear reason.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import chain, islice, repeat
from operator import itemgetter
from typing import IO, Any, NamedTuple
from xml.etree.ElementTree import Element, ParseError

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from app.bankfiles.models import FileFormat
from app.money import ZERO, parse_amount

REPAYMENT_COLUMNS = ("bank_txn_id", "contract_no", "id_number", "amount", "value_date", "type",
                     "reverses")
DISBURSEMENT_COLUMNS = ("bank_txn_id", "contract_no", "id_number", "academic_year", "amount",
                        "value_date")
CSV_COLUMNS = {FileFormat.repayment_csv: REPAYMENT_COLUMNS,
               FileFormat.disbursement_csv: DISBURSEMENT_COLUMNS}
CAMT = {FileFormat.camt053: ("camt.053.001.", "BkToCstmrStmt", "Stmt"),
        FileFormat.camt054: ("camt.054.001.", "BkToCstmrDbtCdtNtfctn", "Ntfctn")}
ISO_NS = "urn:iso:std:iso:20022:tech:xsd:"
# Tried in this order when the uploader does not say (utf-8-sig also reads
# UTF-8 without a BOM).
DETECT_ENCODINGS = ("utf-8-sig", "gbk")
_ALIASES = {"utf-8": "utf-8-sig", "utf8": "utf-8-sig", "utf_8": "utf-8-sig",
            "gb2312": "gbk", "cp936": "gbk"}
_TOO_MANY = "\x00"  # marks a CSV row that had too many fields

Opener = Callable[[], IO[bytes]]


class FileFault(Exception):
    """A fault of the whole file: nothing of it is posted."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Record(NamedTuple):
    """One line (or camt entry) as the bank wrote it (a tuple: a million are made)."""

    line_no: int
    type: str = ""
    bank_txn_id: str = ""
    contract_nos: tuple[str, ...] = ()  # candidates, best first
    id_number: str = ""
    amount: str = ""
    value_date: str = ""
    reverses: str = ""
    academic_year: str = ""
    malformed: str | None = None  # why the line could not be read
    ignored: str | None = None  # why it is not a transaction for us

    @property
    def contract_no(self) -> str:
        return self.contract_nos[0] if self.contract_nos else ""


def normalise_encoding(name: str | None) -> str | None:
    """The codec to read a CSV with, or ``ValueError`` for an unknown name."""
    if not name:
        return None
    key = name.strip().lower()
    codecs.lookup(key)  # LookupError (a ValueError) for an unknown codec
    return _ALIASES.get(key, key)


class Checked(NamedTuple):
    """What the whole-file check found: the encoding used (CSV), the number of
    records, and where the records may be cut into chunks, each read apart:
    (first line, byte offset of that line) of each chunk, or None when the file
    is read in one piece; ``in_turn``: the chunks name transactions in common,
    so each must be posted after the one before it (``_Cuts``)."""

    encoding: str | None
    lines: int
    cuts: list[tuple[int, int]] | None
    in_turn: bool = False


def check(opener: Opener, fmt: FileFormat, declared_encoding: str | None, *,
          chunk_lines: int | None = None) -> Checked:
    """Read the whole file once: what ``Checked`` says, or ``FileFault``.
    ``chunk_lines``: the lines of a chunk, should the file be cut (None: it is not).
    Only repayment CSVs are cut: a disbursement file is small, and each of its
    lines records a loan event through origination, in turn."""
    if fmt in CAMT:
        return Checked(None, _check_camt(opener, fmt), None)
    if fmt != FileFormat.repayment_csv:
        chunk_lines = None
    candidates = [declared_encoding] if declared_encoding else list(DETECT_ENCODINGS)
    for encoding in candidates:
        try:
            return Checked(encoding, *_check_csv(opener, fmt, encoding, chunk_lines))
        except UnicodeDecodeError:
            continue
    tried = " or ".join(candidates)
    raise FileFault("bad_encoding", f"the file cannot be read as {tried}")


def records(opener: Opener, fmt: FileFormat, encoding: str | None, batch: int, *,
            first: int = 1, after: int = 0) -> Iterator[list[Record]]:
    """The file's records from line ``first`` on, in batches of ``batch`` (after a
    successful ``check``).  ``after``: the lines before the file's first (a
    chunk's lines behind the header: numbered on from the chunk's first)."""
    runs: Iterable[list[Record]] = (
        map(_one, _camt_records(opener(), fmt)) if fmt in CAMT
        else _csv_records(opener, fmt, encoding or DETECT_ENCODINGS[0], after))
    chunk: list[Record] = []
    for run in runs:
        if run and run[0].line_no < first:
            run = [r for r in run if r.line_no >= first]
        chunk.extend(run)
        while len(chunk) >= batch:
            yield chunk[:batch]
            chunk = chunk[batch:]
    if chunk:
        yield chunk


def _one(record: Record) -> list[Record]:
    return [record]


# -- CSV ----------------------------------------------------------------------


def _sniff_xml(stream: IO[bytes]) -> bool:
    head = stream.peek(64)[:64] if hasattr(stream, "peek") else b""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


_BLOCK_CHARS = 1 << 20


class _Csv:
    """One pass over a CSV bank file: its header checked, then its rows.

    After the header the text comes a block (about a mebibyte of whole lines)
    at a time, as text while no quote or lone carriage return has been seen
    (``str.split`` then gives what the ``csv`` module would, at a fraction of
    the cost), as rows read by the ``csv`` module from the first block with
    one on.  ``rows_of`` turns rows into (line number, fields); the trailer
    comes as line number 0.
    """

    def __init__(self, opener: Opener, fmt: FileFormat, encoding: str) -> None:
        self.columns = CSV_COLUMNS[fmt]
        stream = opener()
        if _sniff_xml(stream):
            raise FileFault("wrong_format", f"declared {fmt.value} but the file is XML")
        self.text = io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline="")
        try:
            header = next((row for row in csv.reader(self.text) if any(f.strip() for f in row)),
                          None)
        except csv.Error as exc:
            raise FileFault("unreadable", f"the CSV header cannot be parsed: {exc}") from None
        if header is None:
            raise FileFault("missing_columns", "the file is empty")
        header = [c.strip().lower() for c in header]
        missing = [c for c in self.columns if c not in header]
        if missing:
            raise FileFault("missing_columns", f"missing columns: {', '.join(missing)}")
        self.positions = [header.index(c) for c in self.columns]
        self.width = len(header)
        self.in_order = self.positions == list(range(self.width))
        self.line_no = 0
        self.trailer_seen = False

    def blocks(self) -> Iterator[str | list[list[str]]]:
        """Whole lines as text, or (once the file needs the csv module) rows."""
        carry = ""
        while block := self.text.read(_BLOCK_CHARS):
            block = carry + block
            cut = block.rfind("\n") + 1
            body, carry = block[:cut], block[cut:]
            if '"' not in body and ("\r" not in body
                                    or body.count("\r") == body.count("\r\n")):
                if body:
                    yield body
                continue
            rest = csv.reader(chain(io.StringIO(body + carry + self.text.readline()),
                                    self.text))
            try:
                while rows := list(islice(rest, 10_000)):
                    yield rows
            except csv.Error as exc:
                raise FileFault("unreadable", f"the CSV cannot be parsed: {exc}") from None
            return
        if carry:  # a last line without a line break
            try:
                yield list(csv.reader([carry]))
            except csv.Error as exc:
                raise FileFault("unreadable", f"the CSV cannot be parsed: {exc}") from None

    @staticmethod
    def split(block: str | list[list[str]]) -> list[list[str]]:
        if isinstance(block, list):
            return block
        return list(map(str.split, block.split("\n")[:-1], repeat(",")))

    def uniform(self, block: str | list[list[str]]) -> list[str] | None:
        """The block's lines when it is text of data lines only, each with the
        header's number of fields (no blank line, no TRAILER); else None.  Such
        a block is read a column at a time, without a Python loop over its lines."""
        if not isinstance(block, str) or self.trailer_seen:
            return None
        lines = block.split("\n")[:-1]
        if (set(map(str.count, lines, repeat(","))) == {self.width - 1}
                and "trailer" not in block.lower()):
            return lines
        return None

    def columns_of(self, lines: list[str]) -> list[list[str]]:
        """The format's columns of uniform lines, each field stripped; the lines
        are numbered on."""
        table = list(zip(*map(str.split, lines, repeat(",")), strict=True))
        self.line_no += len(lines)
        return [list(map(str.strip, table[p])) for p in self.positions]

    def rows_of(self, rows: list[list[str]]) -> Iterator[tuple[int, tuple[str, ...]]]:
        """(line number, fields) of each data row.  A row with more fields than the
        header comes as (txn id, "\x00<count>"), a row with fewer has its missing
        fields empty; blank lines are skipped."""
        width, positions, strip = self.width, self.positions, str.strip
        for row in rows:
            n = len(row)
            if n == width:
                fields = tuple(map(strip, row)) if self.in_order else tuple(
                    [strip(row[p]) for p in positions])
            elif n == 0 or (n == 1 and not strip(row[0])):
                continue
            elif n > width:
                fields = (strip(row[positions[0]]), f"{_TOO_MANY}{n}")
            else:
                fields = tuple([strip(row[p]) if p < n else "" for p in positions])
            if self.trailer_seen:
                raise FileFault("trailer_not_last", "lines follow the TRAILER line")
            first = strip(row[0])
            if len(first) == 7 and first.upper() == "TRAILER":
                self.trailer_seen = True
                yield 0, tuple(map(strip, row))
                continue
            self.line_no += 1
            yield self.line_no, fields


def _check_csv(opener: Opener, fmt: FileFormat, encoding: str, chunk_lines: int | None
               ) -> tuple[int, list[tuple[int, int]] | None, bool]:
    """The number of lines (the trailer, when there is one, must match them), the
    cuts and whether their chunks go in turn (``_Cuts``).

    A uniform block of text (every line with the header's number of fields, no
    TRAILER) is counted without a Python loop over its lines (``map`` over
    string methods); amounts are tallied by text, each distinct one parsed
    once, and only for a file whose end mentions a trailer (else a file that
    has one after all is read again, tallying)."""
    cuts = _Cuts(opener, encoding, chunk_lines) if chunk_lines else None
    count, trailer, total = _scan_csv(opener, fmt, encoding, cuts,
                                      tally=_ends_in_trailer(opener))
    if trailer is not None and total is None:
        count, trailer, total = _scan_csv(opener, fmt, encoding, None, tally=True)
    if trailer is not None:
        _check_trailer(trailer, count, total or ZERO)
    if cuts is None or (found := cuts.found()) is None:
        return count, None, False
    return count, *found


def _ends_in_trailer(opener: Opener) -> bool:
    """Whether the file's last 64 KiB mention a trailer (any case, any encoding:
    the word is ASCII; a byte pattern that only looks like it costs a tally).
    A stream that cannot seek might: it is tallied."""
    with opener() as stream:
        if not stream.seekable():
            return True
        stream.seek(0, io.SEEK_END)
        stream.seek(max(0, stream.tell() - 65536))
        return b"trailer" in stream.read().lower()


def _scan_csv(opener: Opener, fmt: FileFormat, encoding: str, cuts: _Cuts | None, *,
              tally: bool) -> tuple[int, tuple[str, ...] | None, Decimal | None]:
    """(lines, the trailer's fields or None, the amounts' total or None if not tallied)."""
    csv_file = _Csv(opener, fmt, encoding)
    amount_at = csv_file.positions[csv_file.columns.index("amount")]
    amounts: Counter[str] = Counter()
    trailer = None
    for block in csv_file.blocks():
        lines = csv_file.uniform(block)
        if lines is not None:
            if tally:
                amounts.update(_field(lines, amount_at, csv_file.width))
            if cuts is not None:
                cuts.add(lines, block, csv_file)
            csv_file.line_no += len(lines)
            continue
        if cuts is not None:
            cuts.irregular(block, csv_file)
        for line_no, fields in csv_file.rows_of(csv_file.split(block)):
            if line_no == 0:
                trailer = fields
            elif tally and not fields[-1].startswith(_TOO_MANY):
                amounts[fields[CSV_COLUMNS[fmt].index("amount")]] += 1
    if not tally:
        return csv_file.line_no, trailer, None
    total = ZERO
    for text, times in amounts.items():
        with contextlib.suppress(ValueError):
            total += parse_amount(text) * times
    return csv_file.line_no, trailer, total


def _field(lines: list[str], at: int, width: int) -> Iterator[str]:
    """Field ``at`` (unstripped) of each of uniform lines, split from the
    nearer end."""
    if at < width // 2:
        return map(itemgetter(at), map(str.split, lines, repeat(","), repeat(at + 1)))
    return map(itemgetter(at - width), map(str.rsplit, lines, repeat(","), repeat(width - at)))


class _Cuts:
    """Where a repayment CSV may be cut into chunks of ``size`` lines, each read
    and posted in a transaction of its own, found while it is checked.

    Only a plain file is cut: its header the first physical line, then one
    record a line (no quotes, no blank line; a TRAILER may end it), so that
    the byte offset where a chunk's first line starts is counted here and the
    chunk can be read from there.  Its chunks are posted at once (by several
    workers) unless they are tied: a transaction id named in two chunks (as a
    line's own id, or as the payment a reversal reverses) is decided by line
    order (a repeated id is a duplicate of its first line; a reversal needs
    its payment posted first), so a tied file's chunks go in turn, each after
    the one before it is committed.  Ids are compared by their hashes (8
    bytes a line, not the strings): a collision only puts a file's chunks in
    turn.
    """

    def __init__(self, opener: Opener, encoding: str, size: int) -> None:
        with opener() as stream:
            head = stream.readline()
        # Offsets are counted by encoding the lines again: without a BOM, and
        # only in an encoding that writes the ASCII it reads as ASCII.
        self.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self.plain = (bool(head.strip()) and b'"' not in head
                      and ",\n".encode(self.encoding) == b",\n")
        self.offset = len(head)  # the bytes before the next line (a BOM included)
        self.size, self.lines = size, 0
        self.cuts: list[tuple[int, int]] = []
        self.keys: list[np.ndarray] = []
        self.chunks: list[np.ndarray] = []
        self.named = [REPAYMENT_COLUMNS.index("bank_txn_id"),
                      REPAYMENT_COLUMNS.index("reverses")]

    def add(self, lines: list[str], text: str, csv_file: _Csv) -> None:
        """Uniform data lines, in order, and their text (each line with its break)."""
        if not self.plain:
            return
        done, n = self.lines, len(lines)
        cut = -(-done // self.size) * self.size
        while cut < done + n:
            prefix = lines[:cut - done]
            self.cuts.append((cut + 1, self.offset + self._bytes("\n".join(prefix) + "\n"
                                                               if prefix else "")))
            cut += self.size
        self.offset += self._bytes(text)
        self.lines += n
        chunks = np.arange(done, done + n, dtype=np.int64) // self.size
        for column in self.named:
            at = csv_file.positions[column]
            if at == csv_file.width - 1 and text.count(",\n") + text.count(",\r\n") == n:
                continue  # the last field empty on every line (no reversal names a payment)
            ids = np.array(list(map(str.strip, _field(lines, at, csv_file.width))), dtype=object)
            named = ids != ""
            self.keys.append(np.fromiter(map(hash, ids[named]), np.int64))
            self.chunks.append(chunks[named])

    def irregular(self, block: str | list[list[str]], csv_file: _Csv) -> None:
        """A block that is not uniform: the file stays plain only if the block is
        uniform lines ended by the TRAILER (or the TRAILER alone)."""
        if not self.plain:
            return
        if isinstance(block, list):
            self.plain = all(row and row[0].strip().upper() == "TRAILER" for row in block)
            return
        lines = block.split("\n")[:-1]
        trailer = lines.pop() if lines else ""
        body = block[:len(block) - len(trailer) - 1]
        if (trailer.split(",", 1)[0].strip().upper() != "TRAILER"
                or "trailer" in body.lower()
                or not set(map(str.count, lines, repeat(","))) <= {csv_file.width - 1}):
            self.plain = False
            return
        self.add(lines, body, csv_file)

    def _bytes(self, text: str) -> int:
        return len(text) if text.isascii() else len(text.encode(self.encoding))

    def found(self) -> tuple[list[tuple[int, int]], bool] | None:
        """The cuts and whether their chunks are tied (go in turn), or None: the
        file goes in one piece."""
        if not self.plain or len(self.cuts) < 2:
            return None
        keys, chunks = np.concatenate(self.keys), np.concatenate(self.chunks)
        order = np.argsort(keys, kind="stable")
        keys, chunks = keys[order], chunks[order]
        tied = bool(np.any((keys[1:] == keys[:-1]) & (chunks[1:] != chunks[:-1])))
        return self.cuts, tied


def _check_trailer(trailer: tuple[str, ...], count: int, total: Decimal) -> None:
    try:
        said_count, said_total = int(trailer[1]), parse_amount(trailer[2], allow_zero=True)
    except (ValueError, IndexError):
        raise FileFault("trailer_invalid",
                        f"TRAILER must be TRAILER,<line count>,<amount sum>: {trailer[:3]}"
                        ) from None
    if (said_count, said_total) != (count, total):
        raise FileFault("trailer_mismatch",
                        f"TRAILER says {said_count} lines totalling {said_total}; "
                        f"the file has {count} lines totalling {total}")


def _csv_records(opener: Opener, fmt: FileFormat, encoding: str, after: int
                 ) -> Iterator[list[Record]]:
    """The records of each block: a uniform block's made column by column."""
    csv_file = _Csv(opener, fmt, encoding)
    csv_file.line_no = after
    for block in csv_file.blocks():
        lines = csv_file.uniform(block)
        if lines is None:
            yield [_record(fmt, line_no, fields) for line_no, fields
                   in csv_file.rows_of(csv_file.split(block)) if line_no]
            continue
        first = csv_file.line_no + 1
        yield _records_of(fmt, range(first, first + len(lines)), csv_file.columns_of(lines))


def _records_of(fmt: FileFormat, numbers: Iterable[int],
                columns: Sequence[Iterable[str]]) -> list[Record]:
    """The records of lines given as the format's columns (the only place that
    knows which column is which field)."""
    if fmt == FileFormat.repayment_csv:
        txn, contract, id_number, amount, value_date, type_, reverses = columns
        rows = zip(numbers, map(str.upper, type_), txn, zip(contract), id_number, amount,
                   value_date, reverses, repeat(""), repeat(None), repeat(None))
    else:
        txn, contract, id_number, year, amount, value_date = columns
        rows = zip(numbers, repeat("DISBURSEMENT"), txn, zip(contract), id_number, amount,
                   value_date, repeat(""), year, repeat(None), repeat(None))
    return list(map(tuple.__new__, repeat(Record), rows))


def _record(fmt: FileFormat, line_no: int, fields: tuple[str, ...]) -> Record:
    """One line's record (a line of a block the ``csv`` module reads)."""
    if fields[-1].startswith(_TOO_MANY):
        return Record(line_no, bank_txn_id=fields[0],
                      malformed=f"{fields[-1][1:]} fields, expected {len(CSV_COLUMNS[fmt])}")
    return _records_of(fmt, (line_no,), [(field,) for field in fields])[0]


# -- camt.053 / camt.054 --------------------------------------------------------


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _path(elem: Element | None, path: str) -> Element | None:
    for name in path.split("/"):
        if elem is None:
            return None
        elem = next((c for c in elem if _local(c.tag) == name), None)
    return elem


def _text(elem: Element | None, path: str) -> str:
    found = _path(elem, path)
    return (found.text or "").strip() if found is not None else ""


def _camt_events(stream: IO[bytes], fmt: FileFormat) -> Iterator[tuple[str, Element]]:
    """("entry" | "summary" | "end", element) while streaming; entries are
    dropped from the tree once handled."""
    version_prefix, message, container = CAMT[fmt]
    if not _sniff_xml(stream):
        raise FileFault("wrong_format", f"declared {fmt.value} but the file is not XML")
    stack: list[Element] = []
    try:
        for event, elem in iterparse(stream, events=("start", "end"), forbid_dtd=True):
            if event == "start":
                if not stack:
                    ns = elem.tag[1:].split("}", 1)[0] if elem.tag.startswith("{") else ""
                    if _local(elem.tag) != "Document" or not ns.startswith(
                            ISO_NS + version_prefix):
                        raise FileFault("wrong_format",
                                        f"declared {fmt.value} but the document is "
                                        f"{ns or elem.tag!r}")
                elif len(stack) == 1 and _local(elem.tag) != message:
                    raise FileFault("wrong_format", f"expected {message}, found "
                                                    f"{_local(elem.tag)}")
                stack.append(elem)
                continue
            stack.pop()
            name = _local(elem.tag)
            if name == "Ntry":
                yield "entry", elem
                stack[-1].remove(elem)
            elif name == "TxsSummry":
                yield "summary", elem
            elif name == container:
                yield "end", elem
                stack[-1].remove(elem)
    except DefusedXmlException as exc:
        raise FileFault("unsafe_xml", "XML with a DTD or entity declarations is refused "
                                      f"(no entities are resolved or expanded): {exc!r}") from None
    except ParseError as exc:
        raise FileFault("bad_xml", f"the XML is not well-formed: {exc}") from None


def _check_camt(opener: Opener, fmt: FileFormat) -> int:
    count = 0
    totals = {"CRDT": [0, ZERO], "DBIT": [0, ZERO]}
    summary: dict[str, tuple[int, Decimal]] = {}
    for kind, elem in _camt_events(opener(), fmt):
        if kind == "summary":
            for side, path in (("CRDT", "TtlCdtNtries"), ("DBIT", "TtlDbtNtries")):
                if _path(elem, path) is not None:
                    try:
                        summary[side] = (int(_text(elem, f"{path}/NbOfNtries")),
                                         parse_amount(_text(elem, f"{path}/Sum"),
                                                      allow_zero=True))
                    except ValueError:
                        raise FileFault("trailer_invalid",
                                        f"unreadable {path} in TxsSummry") from None
        elif kind == "entry":
            count += 1
            side = _text(elem, "CdtDbtInd")
            if side in totals:
                totals[side][0] += 1
                with contextlib.suppress(ValueError):
                    totals[side][1] += parse_amount(_text(elem, "Amt"))
        else:
            for side, (said_count, said_sum) in summary.items():
                has_count, has_sum = totals[side]
                if (said_count, said_sum) != (has_count, has_sum):
                    raise FileFault("trailer_mismatch",
                                    f"TxsSummry says {said_count} {side} entries totalling "
                                    f"{said_sum}; the statement has {has_count} totalling "
                                    f"{has_sum}")
            totals = {"CRDT": [0, ZERO], "DBIT": [0, ZERO]}
            summary = {}
    if count == 0:
        raise FileFault("no_entries", f"the {fmt.value} document has no entries")
    return count


_TOKEN = re.compile(r"[^\s,;，；:：]+")


def _entry_record(line_no: int, ntry: Element) -> Record:
    side = _text(ntry, "CdtDbtInd")
    reversal = _text(ntry, "RvslInd").lower() in ("true", "1")
    status = _text(ntry, "Sts/Cd") or _text(ntry, "Sts")
    txn = _text(ntry, "AcctSvcrRef")
    amt = _path(ntry, "Amt")
    amount = _text(ntry, "Amt")
    currency = amt.get("Ccy", "") if amt is not None else ""
    if currency and currency != "CNY":
        amount = f"{currency} {amount}"
    value_date = _text(ntry, "ValDt/Dt") or _text(ntry, "ValDt/DtTm")[:10]
    tx = _path(ntry, "NtryDtls/TxDtls")
    remittance = _path(tx, "RmtInf")
    ustrd = " ".join((e.text or "") for e in (remittance if remittance is not None else ())
                     if _local(e.tag) == "Ustrd")
    end_to_end = _text(tx, "Refs/EndToEndId")
    candidates = tuple(_TOKEN.findall(ustrd)) + (
        (end_to_end,) if end_to_end and end_to_end != "NOTPROVIDED" else ())
    id_number = (_text(tx, "RltdPties/Dbtr/Pty/Id/PrvtId/Othr/Id")
                 or _text(tx, "RltdPties/Dbtr/Id/PrvtId/Othr/Id"))
    common = dict(bank_txn_id=txn, contract_nos=candidates, id_number=id_number,
                  amount=amount, value_date=value_date)
    if status and status not in ("BOOK", "BOOKED"):
        return Record(line_no, "", **common, ignored=f"entry status {status}, not booked")
    if side == "CRDT" and not reversal:
        return Record(line_no, "REPAY", **common)
    if side == "DBIT" and reversal:
        original = _text(tx, "Refs/AcctSvcrRef")
        return Record(line_no, "REVERSAL", **common,
                      reverses=original if original != txn else "")
    return Record(line_no, "", **common,
                  ignored="debit entry" if side == "DBIT" else f"{side} reversal entry")


def _camt_records(stream: IO[bytes], fmt: FileFormat) -> Iterator[Record]:
    line_no = 0
    for kind, elem in _camt_events(stream, fmt):
        if kind == "entry":
            line_no += 1
            yield _entry_record(line_no, elem)
