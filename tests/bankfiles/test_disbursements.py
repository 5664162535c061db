"""Format 3: the bank's disbursement confirmations go through origination's
``confirm_disbursement``; what it refuses waits in the exception queue."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from app.servicing.models import Borrower, EventKind, Loan, LoanEvent
from tests.origination.conftest import Flow, build_world


def test_disbursement_confirmation_file(db, client, set_today):
    world, _admin = build_world(db)
    set_today("2025-09-15")
    flow = Flow(client, world, set_today)
    contract = flow.contracted()
    loan = db.get(Loan, contract["loan_id"])
    id_number = db.get(Borrower, loan.borrower_id).id_number
    no = contract["contract_no"]
    text = (
        "bank_txn_id,contract_no,id_number,academic_year,amount,value_date\n"
        f"D1,{no},{id_number},2025-2026,6000.00,2025-09-15\n"
        f"D2,{no},{id_number},2026-2027,9000.00,2025-09-15\n"  # more than the year's amount
        f"D3,{no},{id_number},2030-2031,100.00,2025-09-15\n"  # not a year of the contract
        f"D1,{no},{id_number},2025-2026,6000.00,2025-09-15\n"  # the same confirmation again
        "TRAILER,4,21100.00\n"
    ).encode()
    up = client.post("/v1/bank-files", params={"format": "disbursement_csv"}, content=text,
                     headers=world.bank_h | {"Content-Type": "text/csv"})
    assert up.status_code == 201, up.text
    done = client.post(f"/v1/bank-files/{up.json()['id']}/process", headers=world.bank_h)
    assert done.status_code == 200, done.text
    assert done.json()["report"]["posted"] == 1
    lines = client.get("/v1/bank-exceptions", params={"upload_id": up.json()["id"]},
                       headers=world.bank_h).json()
    assert [(x["bank_txn_id"], x["reason"]) for x in lines] == [
        ("D2", "refused"), ("D3", "refused"), ("D1", "duplicate")]
    assert "exceeds_contract" in lines[0]["message"]
    assert "year_not_in_contract" in lines[1]["message"]
    db.expire_all()
    events = db.scalars(sa.select(LoanEvent).where(
        LoanEvent.loan_id == loan.id, LoanEvent.kind == EventKind.disbursement)).all()
    assert [(e.amount, e.external_ref, e.data["academic_year"]) for e in events] == [
        (Decimal("6000.00"), "D1", "2025-2026")]
    assert db.get(Loan, loan.id).principal_outstanding == Decimal("6000.00")
