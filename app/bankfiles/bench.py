"""Load for bank files: a bank with loans, a generated repayment file, and the
peak memory of processing it (``loans bankfiles bench``).

Processing runs in a child process (``loans bankfiles process``) so its peak
RSS is the processing's alone, not the generator's.  The child reports its
own ``VmHWM`` (the high-water mark of its address space after ``exec``):
``ru_maxrss`` would not do, since Linux carries the parent's high-water mark
across fork and exec, so a child of a large process (a test run) would seem
as large as its parent.  Every ``post_every``-th line pays a real loan through the engine;
the others name unknown contracts and go to the exception queue, so a million
lines exercise parsing, judging and writing a million outcome rows while the
engine work stays a fraction of the run time.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.bankfiles.models import FileFormat
from app.bankfiles.service import create_upload
from app.bankfiles.storage import spool
from app.db import make_engine, make_session_factory, run_migrations, session_scope
from app.reference import service as ref
from app.reference.models import CenterLevel, SubsidySettlement
from app.servicing.models import EventKind
from app.servicing.service import find_or_create_borrower, open_loan, record_event

OPERATOR = Principal.operator("bankfiles bench")
DISBURSED_ON = dt.date(2025, 9, 10)


def seed_bank(
    session: Session, *, loans: int, tag: str = "bench"
) -> tuple[int, list[tuple[str, str]]]:
    """A center, university, bank and agreement, and ``loans`` disbursed loans:
    (bank id, [(contract_no, id_number)])."""
    center = ref.create_center(session, OPERATOR, name=f"Center {tag}",
                               level=CenterLevel.provincial, province_code="44")
    university = ref.create_university(session, OPERATOR, name=f"University {tag}",
                                       code=f"U{tag}"[:20], center_id=center.id)
    bank = ref.create_bank(session, OPERATOR, name=f"Bank {tag}", code=f"B{tag}"[:20])
    agreement = ref.create_agreement(
        session, OPERATOR, center_id=center.id, bank_id=bank.id,
        valid_from=dt.date(2024, 1, 1), valid_to=None, approval_deadline_working_days=20,
        risk_compensation_rate=Decimal("0.15"), subsidy_settlement=SubsidySettlement.quarterly)
    out = []
    for n in range(loans):
        id_number = f"44010620000101{n:04d}"
        borrower = find_or_create_borrower(session, name=f"学生{n}", id_number=id_number)
        loan = open_loan(
            session, OPERATOR, contract_no=f"NSL-{tag}-{n:06d}", bank_id=bank.id,
            university_id=university.id, center_id=center.id, agreement_id=agreement.id,
            borrower_id=borrower.id, policy_code="NSL-2004", annual_rate=Decimal("0.0612"),
            penalty_markup=Decimal("0.3"), subsidy_settlement="quarterly",
            signed_on=dt.date(2025, 9, 1))
        record_event(session, OPERATOR, loan, kind=EventKind.disbursement,
                     event_date=DISBURSED_ON, amount=Decimal("8000.00"))
        out.append((loan.contract_no, id_number))
    return bank.id, out


def write_repayments(path: Path, *, lines: int, loans: list[tuple[str, str]], post_every: int,
                     value_date: dt.date, prefix: str = "T") -> int:
    """A repayment CSV of ``lines`` lines; returns how many name a real loan."""
    valid = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("bank_txn_id,contract_no,id_number,amount,value_date,type,reverses\n")
        for n in range(lines):
            if n % post_every == 0:
                contract, id_number = loans[valid % len(loans)]
                valid += 1
            else:
                contract, id_number = f"NSL-NONE-{n:08d}", "440106200001010000"
            out.write(f"{prefix}{n:09d},{contract},{id_number},1.{n % 100:02d},"
                      f"{value_date.isoformat()},REPAY,\n")
    return valid


def upload_file(session: Session, bank_id: int, path: Path) -> int:
    with path.open("rb") as raw:
        spooled = spool(iter(lambda: raw.read(1024 * 1024), b""), max_bytes=2**40)
        upload, _ = create_upload(session, OPERATOR, file=spooled,
                                  format=FileFormat.repayment_csv, filename=path.name,
                                  bank_id=bank_id)
    return upload.id


def process_command(upload_id: int, business_date: dt.date) -> list[str]:
    return [sys.executable, "-m", "app.cli", "bankfiles", "process", str(upload_id),
            "--date", business_date.isoformat()]


# Runs ``loans ARGS…`` and writes the process's VmHWM (kB) to the file argv[1].
_MEASURED = """
import pathlib, sys
from app.cli import app
try:
    app(sys.argv[2:], standalone_mode=False)
finally:
    status = pathlib.Path("/proc/self/status").read_text().splitlines()
    hwm = next(line.split()[1] for line in status if line.startswith("VmHWM"))
    pathlib.Path(sys.argv[1]).write_text(hwm)
"""


def run_bench(*, lines: int, post_every: int = 100, loans: int = 200,
              workdir: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = workdir or Path(tmp)
        db_path = root / "bench.db"
        db_path.unlink(missing_ok=True)
        url = f"sqlite:///{db_path}"
        engine = make_engine(url)
        run_migrations(engine)
        factory = make_session_factory(engine)
        business_date = dt.date(2026, 1, 31)
        with session_scope(factory) as session:
            bank_id, seeded = seed_bank(session, loans=loans)
        path = root / "repayments.csv"
        valid = write_repayments(path, lines=lines, loans=seeded, post_every=post_every,
                                 value_date=dt.date(2026, 1, 20))
        with session_scope(factory) as session:
            upload_id = upload_file(session, bank_id, path)
        engine.dispose()
        hwm = root / "peak_kb"
        command = [sys.executable, "-c", _MEASURED, str(hwm),
                   *process_command(upload_id, business_date)[3:]]
        started = time.perf_counter()
        done = subprocess.run(command, env=os.environ | {"LOANS_DATABASE_URL": url},
                              check=False)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"processing failed with status {done.returncode}")
        return {"lines": lines, "posted_lines": valid, "file_mb": round(
            path.stat().st_size / 2**20, 1), "seconds": round(seconds, 1),
            "lines_per_second": round(lines / seconds), "peak_rss_mb": round(
                int(hwm.read_text()) / 1024)}
