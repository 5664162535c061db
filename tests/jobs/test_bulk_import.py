"""Loans imported in bulk are serviced in bulk by the nightly job, to the simulation."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import sqlalchemy as sa

from app import clock
from app.auth.principal import Principal
from app.reference.models import Center
from app.servicing.bulk import ImportedEvent, ImportedLoan, import_loans
from app.servicing.models import EventKind, Loan, LoanEngineState
from jobs import daily, runner
from jobs.models import RunStatus
from tests import factories
from tests.jobs.portfolio import assert_matches_simulation, make_story

START, END = dt.date(2027, 1, 1), dt.date(2027, 12, 31)


def test_imported_loans_are_serviced_by_the_nightly_job(db, factory):
    rng = random.Random(3)
    agreement = factories.make_agreement(db)
    university = factories.make_university(db, db.get(Center, agreement.center_id)).id
    as_of = dt.date(2027, 9, 30)
    loans = []
    for n in range(25):
        events = tuple(
            ImportedEvent(p.kind, p.date, p.amount, p.data)
            for p in make_story(rng, START, as_of)
            if p.kind != EventKind.payment_reversal and p.reverses is None
        )
        loans.append(ImportedLoan(
            contract_no=f"IMP-{n:05d}", borrower_name=f"学生{n}",
            id_number=factories.make_id_number(9000 + n), bank_id=agreement.bank_id,
            university_id=university, center_id=agreement.center_id,
            agreement_id=agreement.id, policy_code="NSL-2004",
            annual_rate=Decimal("0.0612"), penalty_markup=Decimal("0.3"),
            subsidy_settlement=rng.choice(["quarterly", "monthly"]),
            signed_on=dt.date(2024, 9, 1), events=events))
    assert import_loans(db, Principal.operator("test"), loans, batch_size=10) == 25
    ids = list(db.scalars(sa.select(Loan.id).where(Loan.contract_no.like("IMP-%"))))
    clock.set_today(as_of)
    [run] = runner.run_dates(factory, daily.NAME, [as_of])
    assert run.status == RunStatus.done and run.items == 25
    assert db.scalar(sa.select(sa.func.count()).select_from(LoanEngineState)
                     .where(LoanEngineState.loan_id.in_(ids))) == 25
    assert assert_matches_simulation(db, ids, as_of) == 25
