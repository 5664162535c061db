"""After an end-to-end flow (application, contract, disbursement, a bank file
with a payment and a mismatched line, lists), no table holds a plain ID number
and no log line shows one, while lookup by ID number still works and only the
borrower's bank sees it in full."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Base
from app.servicing.service import find_or_create_borrower
from jobs import daily
from tests.origination.conftest import Flow, build_world, citizen_id

OTHER = "11010519491231002X"  # an ID number that is nobody's


def _plain_hits(db: Session, needles: list[str]) -> list[str]:
    """``table.column`` of every text or binary cell containing a needle."""
    hits = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            impl = getattr(column.type, "impl", column.type)
            if not isinstance(impl, sa.String | sa.Text | sa.LargeBinary | sa.JSON):
                continue
            raw = sa.type_coerce(column, impl)  # as stored, not decrypted
            for value in db.scalars(sa.select(raw).where(raw.is_not(None))):
                text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                hits += [f"{table.name}.{column.name}" for n in needles if n in text]
    return hits


def test_no_plain_id_number_at_rest_or_in_logs(
    db: Session, client: TestClient, set_today, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    world, admin = build_world(db)
    flow = Flow(client, world, set_today)
    set_today("2025-09-20")
    number = citizen_id()
    flow.quota("2025-2026")
    flow.quota("2026-2027")
    application = flow.apply(student={"id_number": number})
    flow.vet_and_submit(application["id"])
    flow.decide(application["id"], decided_on="2025-09-10")
    contract = flow.sign(application["id"])
    flow.disburse(contract["loan_id"], "2025-2026", "6000.00", "2025-09-15")
    contract_no = contract["contract_no"]
    csv = ("bank_txn_id,contract_no,id_number,amount,value_date,type,reverses\n"
           f"PRIV-1,{contract_no},{number},100.00,2025-09-18,REPAY,\n"
           f"PRIV-2,{contract_no},{OTHER},50.00,2025-09-18,REPAY,\n")
    upload = client.post("/v1/bank-files", content=csv.encode(),
                         headers={**world.bank_h, "Content-Type": "text/csv"})
    assert upload.status_code == 201, upload.text
    done = client.post(f"/v1/bank-files/{upload.json()['id']}/process", headers=world.bank_h)
    assert done.status_code == 200, done.text
    exceptions = client.get("/v1/bank-exceptions", headers=world.bank_h).json()
    assert [line["bank_txn_id"] for line in exceptions] == ["PRIV-2"]  # the mismatch
    daily.run(db, dt.date(2025, 9, 20), 0, 2**31 - 1)  # the night: the payment is applied
    db.commit()
    events = client.get(f"/v1/loans/{contract['loan_id']}/events", headers=world.bank_h).json()
    assert [e["amount"] for e in events if e["kind"] == "payment"] == ["100.00"]

    # Full to the borrower's bank, masked to the university and the center.
    masked = number[:6] + "********" + number[-4:]
    path = f"/v1/applications/{application['id']}"
    assert client.get(path, headers=world.bank_h).json()["id_number"] == number
    assert client.get(path, headers=world.uni).json()["id_number"] == masked
    assert client.get(path, headers=world.center_h).json()["id_number"] == masked
    assert client.get("/v1/applications", headers=world.uni).json()[0]["id_number"] == masked

    db.expire_all()
    assert _plain_hits(db, [number, OTHER]) == []
    assert "loans.contract_no" in _plain_hits(db, [contract_no])  # the scan sees plain text
    logged = "\n".join(r.getMessage() for r in caplog.records) + capsys.readouterr().err
    assert number not in logged and OTHER not in logged
    # Lookup by ID number still finds the borrower.
    borrower = find_or_create_borrower(db, name="ignored", id_number=number)
    assert borrower.id_number == number and borrower.name == "张三"
