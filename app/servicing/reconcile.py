"""Each loan's ledger balances against the engine's state (``loans ledger verify``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.engine.machine import LoanMachine
from app.ledger.service import loan_balances
from app.money import ZERO
from app.servicing.models import Loan
from app.servicing.receipts import CLEARING
from app.servicing.service import forgiveness_ids, run_loan


@dataclass(frozen=True)
class Difference:
    loan_id: int
    contract_no: str
    account: str
    ledger: Decimal
    engine: Decimal


def engine_balances(machine: LoanMachine, *,
                    forgiven: frozenset[int] = frozenset()) -> dict[str, Decimal]:
    """The ledger balances (debit positive) the engine's state implies.  The
    loan's own legs on ``repayments_clearing`` are its applications: every
    payment the engine applied, except those the state paid (``forgiven``)."""
    return {
        "principal_unbilled": machine.principal_unbilled,
        "principal_billed": sum((b.principal_unpaid for b in machine.bills), ZERO),
        "interest_billed": sum((b.interest_unpaid for b in machine.bills), ZERO),
        "unapplied_funds": -sum((p.to_unapplied for p in machine.payments), ZERO),
        CLEARING: sum((p.amount for p in machine.payments if p.event_index not in forgiven),
                      ZERO),
    }


def loan_differences(session: Session, *, chunk: int = 500) -> Iterator[Difference]:
    """Loans whose ledger differs from the engine run through ``serviced_through``."""
    last_id = 0
    while True:
        loans = list(session.scalars(
            sa.select(Loan).where(Loan.id > last_id, Loan.serviced_through.is_not(None))
            .order_by(Loan.id).limit(chunk)
        ))
        if not loans:
            return
        last_id = loans[-1].id
        ledger = loan_balances(session, [loan.id for loan in loans])
        for loan in loans:
            machine = run_loan(session, loan, loan.serviced_through)
            forgiven = forgiveness_ids(session, loan.id)
            for account, expected in engine_balances(machine, forgiven=forgiven).items():
                booked = ledger.get((loan.id, account), ZERO)
                if booked != expected:
                    yield Difference(loan.id, loan.contract_no, account, booked, expected)
