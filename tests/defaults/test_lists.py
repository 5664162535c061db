"""The default and publication lists over HTTP: formats, scoping, as-of
reproducibility, snapshots, the bank's report (loans of conftest.py)."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from app.auth.models import Role
from app.reference.models import Bank, Center, University
from app.servicing.models import Borrower
from tests import factories
from tests.defaults.conftest import ID_X


def ids(response) -> set[int]:
    assert response.status_code == 200, response.text
    return {item["loan_id"] for item in response.json()["items"]}


def test_scoping_of_the_default_list(client, db, two_sides, auth_headers):
    world, loans = two_sides
    url = "/v1/default-list?as_of=2024-12-20"
    assert ids(client.get(url, headers=world.keys["center_staff"])) == {
        loans["A"].id, loans["A2"].id}
    assert ids(client.get(url, headers=world.keys["bank_operator"])) == {loans["A"].id}
    assert ids(client.get(url, headers=world.keys["university_officer"])) == {
        loans["A"].id, loans["A2"].id}
    provincial = auth_headers(Role.center_staff, db.get(Center, world.ids["cB"]))
    assert ids(client.get(url, headers=provincial)) == {loans["B"].id}
    assert ids(client.get(url, headers=world.keys["admin"])) >= {
        loans["A"].id, loans["A2"].id, loans["B"].id}
    # a filter cannot widen the scope
    assert ids(client.get(f"{url}&university_id={world.ids['uA']}", headers=provincial)) == set()


def test_filters_and_pagination(client, two_sides):
    world, loans = two_sides
    staff = world.keys["center_staff"]
    url = "/v1/default-list?as_of=2024-12-20"
    assert ids(client.get(f"{url}&bank_id={world.ids['bA']}", headers=staff)) == {loans["A"].id}
    assert ids(client.get(f"{url}&graduation_year=2024", headers=staff)) == set()
    assert len(ids(client.get(f"{url}&graduation_year=2023", headers=staff))) == 2
    page = client.get(f"{url}&limit=1&offset=1", headers=staff).json()
    assert (page["total"], len(page["items"]), page["items"][0]["loan_id"]) == (
        2, 1, max(loans["A"].id, loans["A2"].id))
    assert page["totals"] == {"loans": 2, "overdue_principal": "0.00",
                              "overdue_interest": "16.00", "penalty_accrued": "0.76",
                              "overdue_total": "16.76", "principal_outstanding": "2000.00"}


def test_xlsx_holds_exactly_the_rows_and_totals_of_the_csv(client, two_sides):
    world, _loans = two_sides
    url = "/v1/default-list?as_of=2024-12-20"
    got = client.get(f"{url}&format=csv", headers=world.keys["center_staff"])
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert lines[0][:3] == ["合同编号 Contract no.", "姓名 Name", "身份证号 ID number"]
    assert lines[-1][0] == "合计 Total" and lines[-1][1] == "2"
    assert len(lines) == 4
    book = client.get(f"{url}&format=xlsx", headers=world.keys["center_staff"])
    sheet = load_workbook(io.BytesIO(book.content)).active
    cells = [list(r) for r in sheet.iter_rows()]
    assert len(cells) == len(lines)

    def text(cell) -> str:
        value = cell.value
        if value is None:
            return ""
        if cell.number_format == "0.00":
            return f"{value:.2f}"
        if hasattr(value, "date"):
            return value.date().isoformat()
        return str(value)

    assert [[text(c) for c in row] for row in cells] == lines
    id_cells = [row[2] for row in cells[1:-1]]
    assert ID_X in [c.value for c in id_cells]
    assert all(c.data_type == "s" for c in id_cells)
    money = cells[-1][9:]
    assert all(c.data_type == "n" for c in money)
    assert [text(c) for c in money] == ["0.00", "16.00", "0.76", "16.76", "2000.00"]


def test_past_list_is_the_same_after_later_payments(client, db, two_sides, set_today):
    world, loans = two_sides
    staff, bank = world.keys["center_staff"], world.keys["bank_operator"]
    url = "/v1/default-list?as_of=2024-12-20&format=csv"
    before = client.get(url, headers=staff).content
    set_today("2025-02-01")
    paid = client.post(f"/v1/loans/{loans['A'].id}/payments", headers=bank,
                       json={"value_date": "2025-01-15", "amount": "200.00"})
    assert paid.status_code == 201, paid.text
    assert client.get(url, headers=staff).content == before
    now = client.get("/v1/default-list?as_of=2025-02-01", headers=staff)
    assert ids(now) == {loans["A2"].id}


def test_snapshot_answers_like_the_engine_even_after_a_backdated_payment(
    client, db, two_sides, set_today
):
    world, loans = two_sides
    staff, admin = world.keys["center_staff"], world.keys["admin"]
    url = "/v1/default-list?as_of=2024-12-20"
    engine_answer = client.get(url, headers=staff).json()
    taken = client.post("/v1/default-snapshots", headers=admin,
                        json={"business_date": "2024-12-20"})
    assert taken.status_code == 201 and taken.json()["loans"] >= 3
    assert client.post("/v1/default-snapshots", headers=staff,
                       json={"business_date": "2024-12-20"}).status_code == 403
    assert client.get(url, headers=staff).json() == engine_answer
    # A payment value-dated 2024-12-10, recorded later, cures loan A as of 12-20.
    set_today("2025-01-05")
    paid = client.post(f"/v1/loans/{loans['A'].id}/payments", headers=world.keys["bank_operator"],
                       json={"value_date": "2024-12-10", "amount": "50.00"})
    assert paid.status_code == 201
    assert ids(client.get(url, headers=staff)) == {loans["A2"].id}


def test_bank_report_and_publication_list(client, db, two_sides, set_today):
    world, loans = two_sides
    bank, staff = world.keys["bank_operator"], world.keys["center_staff"]
    early = client.post(f"/v1/loans/{loans['A'].id}/default-reports", headers=bank,
                        json={"reported_on": "2024-12-19"})
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_reportable"
    made = client.post(f"/v1/loans/{loans['A'].id}/default-reports", headers=bank,
                       json={"reported_on": "2024-12-20"})
    assert made.status_code == 201, made.text
    assert made.json()["days_past_due"] == 366 and made.json()["overdue_interest"] == "8.00"
    again = client.post(f"/v1/loans/{loans['A'].id}/default-reports", headers=bank,
                        json={"reported_on": "2024-12-20"})
    assert again.status_code == 409
    assert client.post(f"/v1/loans/{loans['A'].id}/default-reports", headers=staff,
                       json={"reported_on": "2024-12-20"}).status_code == 403
    other_bank = client.post(f"/v1/loans/{loans['A2'].id}/default-reports", headers=bank,
                             json={"reported_on": "2024-12-20"})
    assert other_bank.status_code == 404

    published = client.get("/v1/publication-list?as_of=2024-12-20", headers=staff)
    assert published.status_code == 200
    borrower = db.get(Borrower, loans["A"].borrower_id)
    assert published.json() == [{
        "borrower_name": borrower.name,
        "id_number_masked": borrower.id_number[:6] + "********" + borrower.id_number[-4:],
        "university_name": db.get(University, world.ids["uA"]).name,
        "reported_on": "2024-12-20", "arrears_days": 366, "days_past_due": 366,
        "overdue_principal": "0.00", "overdue_interest": "8.00", "penalty_accrued": "0.38",
        "overdue_total": "8.38"}]
    for role in ("university_officer", "bank_operator"):
        got = client.get("/v1/publication-list?as_of=2024-12-20", headers=world.keys[role])
        assert got.status_code == 403
    assert client.get("/v1/default-reports", headers=world.keys["university_officer"]
                      ).status_code == 403
    assert len(client.get("/v1/default-reports", headers=staff).json()) == 1
    provincial_bank = client.get("/v1/default-reports", headers=factories_headers(db, world))
    assert provincial_bank.json() == []
    # cured: off the publication list from then on
    set_today("2025-01-10")
    client.post(f"/v1/loans/{loans['A'].id}/payments", headers=bank,
                json={"value_date": "2025-01-10", "amount": "100.00"})
    assert client.get("/v1/publication-list?as_of=2025-01-10", headers=staff).json() == []
    assert len(client.get("/v1/publication-list?as_of=2024-12-20", headers=staff).json()) == 1


def factories_headers(db, world) -> dict[str, str]:
    token, _ = factories.make_key(db, Role.bank_operator, db.get(Bank, world.ids["bB"]))
    return {"Authorization": f"Bearer {token}"}


def test_delinquency_and_contacts_endpoints(client, two_sides):
    world, loans = two_sides
    bank = world.keys["bank_operator"]
    got = client.get(f"/v1/loans/{loans['A'].id}/delinquency?as_of=2024-12-19", headers=bank)
    assert got.json() | {"loan_id": 0} == {
        "loan_id": 0, "as_of": "2024-12-19", "status": "graduated", "days_past_due": 365,
        "bucket": "181-365", "arrears_run_start": "2023-12-20", "arrears_days": 365,
        "overdue_principal": "0.00", "overdue_interest": "8.00", "penalty_accrued": "0.38",
        "principal_outstanding": "1000.00", "default_reportable": False}
    assert client.get(f"/v1/loans/{loans['B'].id}/delinquency", headers=bank).status_code == 404
    client.post(f"/v1/loans/{loans['A'].id}/contacts", headers=bank,
                json={"date": "2024-12-01", "channel": "sms", "initiated_by": "borrower"})
    contacts = client.get(f"/v1/loans/{loans['A'].id}/contacts", headers=bank).json()
    assert [c["data"]["initiated_by"] for c in contacts] == ["borrower"]
