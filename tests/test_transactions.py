"""The request owns the transaction: committed on success, rolled back on error."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import make_session_factory
from app.deps import DbSession
from app.errors import Conflict
from app.main import create_app
from app.reference.models import Bank


def test_error_after_a_write_rolls_the_request_back(connection, db: Session) -> None:
    app = create_app(
        Settings(),
        session_factory=make_session_factory(connection, join_transaction_mode="create_savepoint"),
    )
    router = APIRouter()

    @router.post("/write-then-fail")
    def write_then_fail(session: DbSession) -> None:
        session.add(Bank(name="half-made", code="HALF"))
        session.flush()
        raise Conflict("changed my mind")

    @router.post("/write")
    def write(session: DbSession) -> None:
        session.add(Bank(name="made", code="MADE"))

    app.include_router(router)
    with TestClient(app) as client:
        assert client.post("/write-then-fail").status_code == 409
        assert client.post("/write").status_code == 200
    names = {bank.name for bank in db.query(Bank).all()}
    assert "made" in names and "half-made" not in names
