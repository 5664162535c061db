"""A bank with four loans (two repaying, one closed, one of another bank), and
helpers to upload and process files as that bank, and to apply what they
posted (the nightly job's work)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.auth.principal import Principal
from app.bankfiles.models import BankLine, BankUpload, FileFormat
from app.bankfiles.processing import process_upload
from app.bankfiles.service import create_upload
from app.bankfiles.storage import spool
from app.db import make_session_factory
from app.reference.models import Bank
from app.servicing.models import EventKind, Loan, LoanEvent
from app.servicing.service import record_event
from jobs import daily
from tests import factories

DATA = Path(__file__).resolve().parents[1] / "data" / "bankfiles"
BUSINESS_DATE = dt.date(2027, 1, 31)
A, B = "NSL-4401-2023-000123", "NSL-4401-2023-000124"
CLOSED, OTHER = "NSL-4401-2023-000200", "NSL-4401-2023-000999"


@dataclass
class World:
    bank: Bank
    operator: Principal
    headers: dict[str, str]
    loans: dict[str, Loan]
    upload: Callable[..., tuple[BankUpload, bool]]
    process: Callable[[int], BankUpload]
    lines: Callable[[int], dict[int, BankLine]]
    apply: Callable[[], None]


def bank_principal(db: Session, bank: Bank) -> tuple[Principal, dict[str, str]]:
    token, user_id = factories.make_key(db, Role.bank_operator, bank)
    return Principal.of(db.get(User, user_id)), {"Authorization": f"Bearer {token}"}


def payments(db: Session, loan: Loan) -> list[LoanEvent]:
    return list(db.scalars(sa.select(LoanEvent).where(
        LoanEvent.loan_id == loan.id,
        LoanEvent.kind.in_([EventKind.payment, EventKind.payment_reversal]))
        .order_by(LoanEvent.id)))


@pytest.fixture
def world(db, connection, make_agreement, make_loan, set_today) -> World:
    set_today("2025-09-10")
    agreement = make_agreement()
    bank = db.get(Bank, agreement.bank_id)
    operator = Principal.operator("test")
    loans = {
        A: make_loan(agreement=agreement, contract_no=A, id_number="11010519491231002X"),
        B: make_loan(agreement=agreement, contract_no=B, id_number="44010620000101123X"),
        CLOSED: make_loan(agreement=agreement, contract_no=CLOSED,
                          id_number="12010519900101001X"),
        OTHER: make_loan(contract_no=OTHER, id_number="33010519800101001X"),
    }
    for contract, amount in ((A, "6000.00"), (B, "6000.00"), (CLOSED, "1000.00"),
                             (OTHER, "6000.00")):
        record_event(db, operator, loans[contract], kind=EventKind.disbursement,
                     event_date=dt.date(2025, 9, 10), amount=Decimal(amount))
    record_event(db, operator, loans[CLOSED], kind=EventKind.payment,
                 event_date=dt.date(2025, 9, 10), amount=Decimal("1000.00"))
    assert loans[CLOSED].status == "closed"
    set_today(BUSINESS_DATE)
    principal, headers = bank_principal(db, bank)
    factory = make_session_factory(connection, join_transaction_mode="create_savepoint")

    def upload(source: str | bytes, fmt: FileFormat = FileFormat.repayment_csv,
               encoding: str | None = None, **kw: Any) -> tuple[BankUpload, bool]:
        data = (DATA / source).read_bytes() if isinstance(source, str) else source
        spooled = spool([data], max_bytes=10**8)
        result = create_upload(db, kw.pop("principal", principal), file=spooled, format=fmt,
                               filename=source if isinstance(source, str) else "",
                               encoding=encoding, **kw)
        db.commit()
        return result

    def process(upload_id: int) -> BankUpload:
        done = process_upload(factory, upload_id, business_date=BUSINESS_DATE)
        db.expire_all()
        return done

    def lines(upload_id: int) -> dict[int, BankLine]:
        return {x.line_no: x for x in db.scalars(
            sa.select(BankLine).where(BankLine.upload_id == upload_id).order_by(BankLine.line_no))}

    def apply() -> None:
        """The nightly job's chunk over every loan: posted lines become events, applied."""
        daily.run(db, BUSINESS_DATE, 0, 2**31 - 1)
        db.expire_all()

    return World(bank, principal, headers, loans, upload, process, lines, apply)
