"""Receipt now, application at night: a file's lines are receipted when it is
processed and applied by the next nightly run, exactly as ``loans simulate``
allocates them; API payments go through the same receipt and application at
once; the ledger of payments recorded before the two-step model is brought
to it by its migration."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from app.bankfiles.application import apply_pending, pending_loans, receipts_difference
from app.bankfiles.models import Outcome
from app.db import make_session_factory, run_migrations, session_scope
from app.ledger.models import Account, JournalEntry, JournalLeg
from app.ledger.service import NewEntry, balanced_legs, loan_balances, post
from app.servicing.models import EventKind, Loan, LoanEvent
from app.servicing.receipts import CASH, CLEARING
from app.servicing.reconcile import engine_balances, loan_differences
from app.servicing.service import record_event, run_loan
from tests import factories
from tests.bankfiles.conftest import BUSINESS_DATE, A, B, payments
from tests.bankfiles.test_files import account_total, assert_ledger_sound, clearing_balance
from tests.jobs.portfolio import assert_matches_simulation

HEAD = "bank_txn_id,contract_no,id_number,amount,value_date,type,reverses\n"
ID = {A: "11010519491231002X", B: "44010620000101123X"}


def line(txn: str, contract: str, amount: str, day: str = "2027-01-20", type_: str = "REPAY",
         reverses: str = "") -> str:
    return f"{txn},{contract},{ID[contract]},{amount},{day},{type_},{reverses}\n"


def cash(db) -> Decimal:
    return account_total(db, CASH)


def test_a_file_is_receipted_now_and_applied_by_the_next_nightly_run(db, world):
    cash_before = cash(db)
    text = HEAD + line("R1", A, "530.16") + line("R2", B, "300.00", "2027-01-21")
    done = world.process(world.upload(text.encode())[0].id)
    lines = world.lines(done.id)
    assert [(x.outcome, x.loan_id, x.loan_event_id, x.id_number) for x in lines.values()] == [
        (Outcome.posted, world.loans[A].id, None, None),
        (Outcome.posted, world.loans[B].id, None, None)]
    # The receipts: one entry per value date, the cash in, the clearing account owing it.
    receipts = db.execute(
        sa.select(JournalEntry.kind, JournalEntry.value_date, JournalEntry.loan_id)
        .where(JournalEntry.idempotency_key.like(f"bankfile:{done.id}:%"))
        .order_by(JournalEntry.value_date)).all()
    assert receipts == [("receipt", dt.date(2027, 1, 20), None),
                        ("receipt", dt.date(2027, 1, 21), None)]
    assert cash(db) - cash_before == Decimal("830.16")
    assert clearing_balance(db) == Decimal("-830.16")
    assert payments(db, world.loans[A]) == []  # nothing applied yet
    assert set(db.scalars(pending_loans(BUSINESS_DATE))) == {world.loans[A].id,
                                                              world.loans[B].id}
    assert_ledger_sound(db)

    world.apply()
    assert clearing_balance(db) == 0  # every receipt applied
    assert cash(db) - cash_before == Decimal("830.16")  # the cash stays where it came in
    assert list(db.scalars(pending_loans(BUSINESS_DATE))) == []
    for contract in (A, B):
        loan = world.loans[contract]
        [event] = payments(db, loan)
        assert world.lines(done.id)[1 if contract == A else 2].loan_event_id == event.id
        machine = run_loan(db, loan, BUSINESS_DATE)
        # The loan's own clearing legs are its application: the whole payment.
        assert loan_balances(db, [loan.id])[(loan.id, CLEARING)] == event.amount
        assert engine_balances(machine)[CLEARING] == event.amount
    # Allocation, figures and ledger are what the simulation of the same events gives.
    assert assert_matches_simulation(db, [world.loans[A].id, world.loans[B].id],
                                     BUSINESS_DATE) == 2
    assert_ledger_sound(db)


def test_reversals_of_waiting_applied_and_api_payments(db, world, client):
    first = HEAD + line("P1", A, "100.00") + line("P2", B, "200.00")
    world.process(world.upload(first.encode())[0].id)
    world.apply()  # P1, P2 applied
    api = client.post(f"/v1/loans/{world.loans[A].id}/payments", headers=world.headers,
                      json={"value_date": "2027-01-22", "amount": "42.00", "bank_txn_id": "API-9"})
    assert api.status_code == 201, api.text
    second = (HEAD + line("P3", B, "50.00", "2027-01-23")
              + line("X3", B, "50.00", "2027-01-24", "REVERSAL", "P3")  # of a waiting line
              + line("X1", A, "100.00", "2027-01-24", "REVERSAL", "P1")  # of an applied one
              + line("X9", A, "42.00", "2027-01-24", "REVERSAL", "API-9")  # of the API's
              + line("X1b", A, "100.00", "2027-01-25", "REVERSAL", "P1"))  # again: refused
    done = world.process(world.upload(second.encode())[0].id)
    lines = world.lines(done.id)
    assert [x.outcome for x in lines.values()] == [Outcome.posted] * 4 + [Outcome.exception]
    assert lines[5].reason == "already_reversed"
    assert clearing_balance(db) == Decimal("-50.00") + 50 + 100 + 42  # receipts of the file
    world.apply()
    assert clearing_balance(db) == 0
    a, b = ({e.external_ref: e for e in payments(db, world.loans[c])} for c in (A, B))
    assert a["X1"].reverses_event_id == a["P1"].id
    assert a["X9"].reverses_event_id == a["API-9"].id
    assert b["X3"].reverses_event_id == b["P3"].id
    assert [p.amount for p in run_loan(db, world.loans[A], BUSINESS_DATE).payments] == []
    assert [p.amount for p in run_loan(db, world.loans[B], BUSINESS_DATE).payments] == [
        Decimal("200.00")]
    assert_ledger_sound(db)


def test_a_reversal_valued_before_its_payment_waits_for_it(db, world):
    """A reversal dated before the payment it names waits, pending, until the
    payment's date is applied; then both become events, the reversal naming
    the payment's, with the next event ids (a waiting line takes none)."""
    text = (HEAD + line("P5", A, "70.00", "2027-01-25")
            + line("X5", A, "70.00", "2027-01-24", "REVERSAL", "P5"))
    done = world.process(world.upload(text.encode())[0].id)
    assert [x.outcome for x in world.lines(done.id).values()] == [Outcome.posted] * 2
    last_event = db.scalar(sa.select(sa.func.coalesce(sa.func.max(LoanEvent.id), 0)))
    loan_id = world.loans[A].id

    assert apply_pending(db, lo=loan_id, hi=loan_id, through=dt.date(2027, 1, 24),
                         recorded_by="test") == {}
    assert [x.loan_event_id for x in world.lines(done.id).values()] == [None, None]

    assert apply_pending(db, lo=loan_id, hi=loan_id, through=dt.date(2027, 1, 25),
                         recorded_by="test") == {loan_id: dt.date(2027, 1, 24)}
    db.expire_all()
    p5, x5 = (x.loan_event_id for x in world.lines(done.id).values())
    assert (p5, x5) == (last_event + 1, last_event + 2)
    assert db.get_one(LoanEvent, x5).reverses_event_id == p5
    assert db.get_one(LoanEvent, x5).kind == EventKind.payment_reversal
    assert db.get_one(Loan, loan_id).dirty_from == dt.date(2027, 1, 24)


def test_duplicates_within_a_file_across_files_and_with_the_api(db, world, client):
    one = HEAD + line("D1", A, "10.00") + line("D2", A, "20.00") + line("D1", B, "10.00")
    two = HEAD + line("D2", A, "20.00") + line("D3", B, "30.00")
    first = world.process(world.upload(one.encode())[0].id)
    assert [(x.outcome, x.txn_key) for x in world.lines(first.id).values()] == [
        (Outcome.posted, "D1"), (Outcome.posted, "D2"), (Outcome.duplicate, None)]
    second = world.process(world.upload(two.encode())[0].id)
    assert [x.outcome for x in world.lines(second.id).values()] == [Outcome.duplicate,
                                                                     Outcome.posted]
    # A transaction a file holds (applied or not) cannot be recorded through the API.
    taken = client.post(f"/v1/loans/{world.loans[B].id}/payments", headers=world.headers,
                        json={"value_date": "2027-01-20", "amount": "30.00", "bank_txn_id": "D3"})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "duplicate"
    world.apply()
    refs = sorted(e.external_ref for c in (A, B) for e in payments(db, world.loans[c]))
    assert refs == ["D1", "D2", "D3"]
    assert_ledger_sound(db)


def test_an_api_payment_is_receipted_and_applied_at_once(db, world, client):
    before = cash(db)
    made = client.post(f"/v1/loans/{world.loans[A].id}/payments", headers=world.headers,
                       json={"value_date": "2027-01-25", "amount": "88.00"})
    assert made.status_code == 201, made.text
    db.expire_all()
    event_id = made.json()["id"]
    legs = dict(db.execute(
        sa.select(Account.code, JournalLeg.amount)
        .join(JournalLeg, JournalLeg.account_id == Account.id)
        .join(JournalEntry, JournalEntry.id == JournalLeg.entry_id)
        .where(JournalEntry.idempotency_key == f"receipt:{event_id}")).all())
    assert legs == {CASH: Decimal("88.00"), CLEARING: Decimal("-88.00")}
    assert cash(db) - before == Decimal("88.00") and clearing_balance(db) == 0
    reversed_ = client.post(f"/v1/loans/{world.loans[A].id}/payments/{event_id}/reversal",
                            headers=world.headers, json={"value_date": "2027-01-26"})
    assert reversed_.status_code == 201, reversed_.text
    db.expire_all()
    assert cash(db) == before and clearing_balance(db) == 0
    assert_ledger_sound(db)


def test_the_migration_books_past_payments_in_two_steps(empty_engine, set_today):
    """A payment applied the old way (its application debiting bank_cash) gets
    its receipt and its application re-pointed to the clearing account: bank
    cash unchanged, clearing zero, the loan still matching the engine."""
    engine = empty_engine
    run_migrations(engine, "0012_loan_penalty_cache")  # the revision before receipts
    factory = make_session_factory(engine)
    set_today("2025-10-01")
    with session_scope(factory) as session:
        loan = factories.make_loan(session, id_number="11010519491231002X")
        op = factories.OPERATOR
        record_event(session, op, loan, kind=EventKind.disbursement,
                     event_date=dt.date(2025, 9, 10), amount=Decimal("6000.00"))
        payment = LoanEvent(loan_id=loan.id, kind=EventKind.payment, amount=Decimal("200.00"),
                            event_date=dt.date(2025, 9, 20), recorded_by="old code", data={})
        session.add(payment)
        session.flush()
        # In school the payment is a prepayment: the old application, from bank_cash.
        post(session, [NewEntry(key=f"loan:{loan.id}:pay:{payment.id}:v1", kind="payment",
                                value_date=payment.event_date, loan_id=loan.id,
                                slot=f"pay:{payment.id}", legs=balanced_legs(
                                    ("bank_cash", "principal_unbilled", Decimal("200.00")),
                                    loan_id=loan.id))], posted_by="old code")
        loan_id = loan.id
    with session_scope(factory) as session:
        cash_before = cash(session)
    run_migrations(engine)
    with session_scope(factory) as session:
        assert cash(session) == cash_before
        assert clearing_balance(session) == 0
        assert list(loan_differences(session)) == []
        booked, due = receipts_difference(session)
        assert booked == due == Decimal("-200.00")
        standing = session.execute(
            sa.select(JournalEntry.idempotency_key, JournalEntry.reverses_entry_id)
            .where(JournalEntry.loan_id == loan_id, JournalEntry.slot == f"pay:{payment.id}")
            .order_by(JournalEntry.id)).all()
        assert [key for key, _ in standing] == [
            f"loan:{loan_id}:pay:{payment.id}:v1", f"loan:{loan_id}:pay:{payment.id}:v1:reversal",
            f"loan:{loan_id}:pay:{payment.id}:v2"]
