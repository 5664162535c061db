"""Bank files over HTTP: upload scoping and limits, reports and per-line CSV,
the exception queue and its audited resolutions, the daily reconciliation."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import sqlalchemy as sa

from app.audit.models import AuditRecord
from app.auth.models import Role
from app.reference.models import Bank, Center
from app.servicing.service import run_loan
from tests.bankfiles.conftest import BUSINESS_DATE, CLOSED, DATA, A, B, payments
from tests.bankfiles.test_files import assert_ledger_sound


def upload_and_process(client, world, name: str, **params) -> dict:
    response = client.post("/v1/bank-files", params=params,
                           content=(DATA / name).read_bytes(), headers=world.headers)
    assert response.status_code == 201, response.text
    done = client.post(f"/v1/bank-files/{response.json()['id']}/process", headers=world.headers)
    assert done.status_code == 200, done.text
    return done.json()


def test_multipart_upload_and_report(client, world):
    files = {"file": ("statement.xml", (DATA / "camt053.xml").read_bytes(), "application/xml")}
    response = client.post("/v1/bank-files", files=files, data={"format": "camt053"},
                           headers=world.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["filename"], body["format"], body["status"]) == (
        "statement.xml", "camt053", "pending")
    assert body["sha256"] == __import__("hashlib").sha256(
        (DATA / "camt053.xml").read_bytes()).hexdigest()
    client.post(f"/v1/bank-files/{body['id']}/process", headers=world.headers)
    got = client.get(f"/v1/bank-files/{body['id']}", headers=world.headers).json()
    assert got["status"] == "done"
    assert got["report"]["amount_posted"] == "830.16" and got["report"]["ignored"] == 1


def test_upload_scoping_and_limits(client, world, auth_headers, make_bank, db):
    other = auth_headers(Role.bank_operator, make_bank())
    body = upload_and_process(client, world, "repayments-utf8.csv")
    assert client.get(f"/v1/bank-files/{body['id']}", headers=other).status_code == 404
    assert client.get(f"/v1/bank-files/{body['id']}/lines.csv", headers=other).status_code == 404
    assert client.get("/v1/bank-files", headers=other).json() == []
    center = db.get(Center, world.loans[A].center_id)
    staff = auth_headers(Role.center_staff, center)
    assert client.get(f"/v1/bank-files/{body['id']}", headers=staff).status_code == 200
    refused = client.post("/v1/bank-files", content=b"x", headers=staff)
    assert refused.status_code == 403
    bad = client.post("/v1/bank-files", params={"encoding": "klingon"}, content=b"x",
                      headers=world.headers)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "encoding"
    settings = client.app.state.settings
    big = client.post("/v1/bank-files", content=b"a" * (settings.max_upload_bytes + 1),
                      headers=world.headers | {"Content-Type": "text/csv"})
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
    client.app.state.settings = settings.model_copy(update={"max_upload_bytes": 100})
    try:
        def chunks():
            yield b"a" * 80
            yield b"a" * 80
        streamed = client.post("/v1/bank-files", content=chunks(),
                               headers=world.headers | {"Content-Type": "text/csv"})
        assert streamed.status_code == 413
    finally:
        client.app.state.settings = settings
    assert len(client.get("/v1/bank-files", headers=world.headers).json()) == 1


def test_per_line_results_as_csv(client, world):
    body = upload_and_process(client, world, "bad-lines.csv")
    response = client.get(f"/v1/bank-files/{body['id']}/lines.csv", headers=world.headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 16
    assert rows[1] | {"message": ""} == {
        "line_no": "2", "bank_txn_id": "BX002", "type": "REPAY",
        "contract_no": "NSL-0000-0000-000000", "amount": "100.00", "value_date": "2027-01-20",
        "reverses": "", "outcome": "exception", "reason": "unknown_contract", "message": "",
        "loan_id": "", "loan_event_id": "", "exception_status": "open"}
    assert rows[4]["amount"] == "12.345"  # as the bank wrote it


def test_exception_queue_filters_and_resolutions(client, world, db, auth_headers, make_bank):
    body = upload_and_process(client, world, "bad-lines.csv")
    queue = client.get("/v1/bank-exceptions", headers=world.headers).json()
    assert len(queue) == 14  # line 11 is posted: no earlier file took its id here
    unknown = client.get("/v1/bank-exceptions", params={"reason": "unknown_contract"},
                         headers=world.headers).json()
    assert [x["bank_txn_id"] for x in unknown] == ["BX002"]
    other = auth_headers(Role.bank_operator, make_bank())
    assert client.get("/v1/bank-exceptions", headers=other).json() == []
    line_id = unknown[0]["id"]
    assert client.post(f"/v1/bank-exceptions/{line_id}/resolve", json={"action": "return"},
                       headers=other).status_code == 404
    loan = world.loans[A]
    assigned = client.post(f"/v1/bank-exceptions/{line_id}/resolve",
                           json={"action": "assign", "loan_id": loan.id,
                                 "note": "contract number mistyped"}, headers=world.headers)
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["exception_status"] == "assigned"
    event_id = assigned.json()["loan_event_id"]
    db.expire_all()
    event = next(e for e in payments(db, loan) if e.id == event_id)
    assert (event.amount, event.external_ref) == (Decimal("100.00"), "BX002")
    again = client.post(f"/v1/bank-exceptions/{line_id}/resolve", json={"action": "return"},
                        headers=world.headers)
    assert again.status_code == 409
    # bad amount: assign needs an amount of the person's choosing
    bad_amount = client.get("/v1/bank-exceptions", params={"reason": "bad_amount"},
                            headers=world.headers).json()[0]
    refused = client.post(f"/v1/bank-exceptions/{bad_amount['id']}/resolve",
                          json={"action": "assign", "loan_id": loan.id}, headers=world.headers)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "amount"
    # the money held on the closed loan goes back to the bank: its payment is reversed
    held = client.get("/v1/bank-exceptions", params={"reason": "loan_closed"},
                      headers=world.headers).json()[0]
    returned = client.post(f"/v1/bank-exceptions/{held['id']}/resolve",
                           json={"action": "return", "note": "refund"}, headers=world.headers)
    assert returned.json()["exception_status"] == "returned"
    db.expire_all()
    closed = run_loan(db, world.loans[CLOSED], BUSINESS_DATE)
    assert sum(p.to_unapplied for p in closed.payments) == 0
    duplicate = client.get("/v1/bank-exceptions", params={"reason": "duplicate"},
                           headers=world.headers).json()[0]
    assert client.post(f"/v1/bank-exceptions/{duplicate['id']}/resolve",
                       json={"action": "assign", "loan_id": loan.id},
                       headers=world.headers).status_code == 409
    actions = db.scalars(sa.select(AuditRecord.action).where(
        AuditRecord.entity_type == "bank_lines")).all()
    assert sorted(actions) == ["bank_exception.assign", "bank_exception.return"]
    assert len(client.get("/v1/bank-exceptions", params={"status": "assigned"},
                          headers=world.headers).json()) == 1
    assert_ledger_sound(db)
    assert body["report"]["exceptions"] == 12


def test_daily_reconciliation(client, world, db):
    upload_and_process(client, world, "repayments-utf8.csv")
    upload_and_process(client, world, "bad-lines.csv")
    day = {"date": "2027-01-20"}
    report = client.get("/v1/bank-reconciliation", params=day, headers=world.headers).json()
    # utf8 file: 530.16 + 300.00 - 530.16; bad lines dated 01-20 with an amount:
    # BX001 100, BX002-4 3×100, BX001 again 100, B…002 again 300, BX011 250, BX012-13 2×80
    assert report["bank_total"] == "1510.00"
    # posted: 300.00 (B) + 100.00 (BX001) + 250.00 held on the closed loan, all
    # waiting for the nightly job to apply them
    assert report["posted"] == "650.00" and report["difference"] == "860.00"
    assert (report["awaiting_application"], report["unapplied_held"]) == ("650.00", "0.00")
    world.apply()
    report = client.get("/v1/bank-reconciliation", params=day, headers=world.headers).json()
    assert (report["posted"], report["difference"]) == ("650.00", "860.00")
    assert (report["awaiting_application"], report["unapplied_held"]) == ("0.00", "250.00")
    shares = {item["bank_txn_id"]: item["share"] for item in report["items"]}
    assert sum(Decimal(s) for s in shares.values()) == Decimal("860.00")
    assert shares["BX002"] == "100.00" and shares["B20270120000002"] == "300.00"
    assert shares["BX011"] == "0.00"  # held: posted, but an open exception
    # resolving moves the difference: assign BX002, return the duplicates and the rest
    for item in client.get("/v1/bank-exceptions", params={"value_date_from": "2027-01-20",
                                                          "value_date_to": "2027-01-20"},
                           headers=world.headers).json():
        action = {"action": "assign", "loan_id": world.loans[A].id} \
            if item["bank_txn_id"] == "BX002" else {"action": "return"}
        assert client.post(f"/v1/bank-exceptions/{item['id']}/resolve", json=action,
                           headers=world.headers).status_code == 200
    after = client.get("/v1/bank-reconciliation", params=day, headers=world.headers).json()
    assert after["posted"] == "500.00"  # BX011 returned, BX002 assigned
    assert after["exceptions_open"] == {"count": 0, "amount": "0.00"}
    assert sum(Decimal(i["share"]) for i in after["items"]) == Decimal(after["difference"])
    assert {i["exception_status"] for i in after["items"]} == {"returned"}
    as_csv = client.get("/v1/bank-reconciliation.csv", params=day, headers=world.headers)
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert ["difference", after["difference"]] in rows and rows[10:12][1][0] == "item"
    assert len(rows) == 12 + len(after["items"])
    other_bank = db.scalar(sa.select(Bank.id).where(Bank.id != world.bank.id))
    assert client.get("/v1/bank-reconciliation", params=day | {"bank_id": other_bank},
                      headers=world.headers).status_code == 404


def test_a_payment_without_a_file_line_shows_in_reconciliation(client, world):
    response = client.post(f"/v1/loans/{world.loans[A].id}/payments",
                           json={"value_date": "2027-01-28", "amount": "42.00",
                                 "bank_txn_id": "API-1"}, headers=world.headers)
    assert response.status_code == 201, response.text
    report = client.get("/v1/bank-reconciliation", params={"date": "2027-01-28"},
                        headers=world.headers).json()
    assert (report["bank_total"], report["posted"], report["difference"]) == (
        "0.00", "42.00", "-42.00")
    assert report["items"][0]["item"] == "posting_without_line"
    # and the same transaction id in a file later is a duplicate
    text = ("bank_txn_id,contract_no,id_number,amount,value_date,type,reverses\n"
            f"API-1,{A},11010519491231002X,42.00,2027-01-28,REPAY,\n").encode()
    up = client.post("/v1/bank-files", content=text, headers=world.headers).json()
    done = client.post(f"/v1/bank-files/{up['id']}/process", headers=world.headers).json()
    assert done["report"]["duplicates"] == 1


def test_a_later_file_processed_first_is_refused_by_name(client, world, monkeypatch):
    from app.bankfiles import processing

    monkeypatch.setattr(processing, "EARLIER_CHUNK_WAIT", 0.2)
    ids = [client.post("/v1/bank-files", content=(DATA / name).read_bytes(),
                       headers=world.headers).json()["id"]
           for name in ("repayments-utf8.csv", "bad-lines.csv")]
    refused = client.post(f"/v1/bank-files/{ids[1]}/process", headers=world.headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "earlier_upload"
    assert f"upload {ids[0]} of the same bank" in refused.json()["error"]["message"]
    report = client.get(f"/v1/bank-files/{ids[1]}", headers=world.headers).json()
    assert (report["status"], report["lines_done"]) == ("processing", 0)
    for upload_id in ids:
        done = client.post(f"/v1/bank-files/{upload_id}/process", headers=world.headers)
        assert (done.status_code, done.json()["status"]) == (200, "done")


def test_an_upload_says_whether_its_chunks_go_in_turn(client, world, monkeypatch):
    """Cut into chunks of two lines, a file whose reversal is in another chunk
    than its payment has its chunks posted in turn, and says so; a file whose
    chunks share no transaction does not."""
    from app.bankfiles import processing
    from tests.conftest import SETTINGS

    monkeypatch.setattr(processing, "get_settings",
                        lambda: SETTINGS.model_copy(update={"bankfile_chunk_lines": 2}))
    head = "bank_txn_id,contract_no,id_number,amount,value_date,type,reverses\n"

    def process(*lines: str) -> dict:
        up = client.post("/v1/bank-files", content=(head + "".join(lines)).encode(),
                         headers=world.headers).json()
        done = client.post(f"/v1/bank-files/{up['id']}/process", headers=world.headers)
        assert done.status_code == 200
        return done.json()

    tied = process(f"IT-1,{A},11010519491231002X,10.00,2027-01-20,REPAY,\n",
                   f"IT-2,{B},44010620000101123X,10.00,2027-01-20,REPAY,\n",
                   f"IT-3,{A},11010519491231002X,10.00,2027-01-21,REVERSAL,IT-1\n")
    assert (tied["status"], tied["lines_done"], tied["chunks_in_turn"]) == ("done", 3, True)
    assert (tied["report"]["posted"], tied["report"]["reversals_posted"]) == (2, 1)
    apart = process(f"IT-4,{A},11010519491231002X,10.00,2027-01-22,REPAY,\n",
                    f"IT-5,{B},44010620000101123X,10.00,2027-01-22,REPAY,\n",
                    f"IT-6,{B},44010620000101123X,10.00,2027-01-22,REPAY,\n")
    assert (apart["status"], apart["chunks_in_turn"]) == ("done", False)
