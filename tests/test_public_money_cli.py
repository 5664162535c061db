"""``loans subsidy settle``, ``loans risk-fund compute`` and ``loans ledger verify`` on a
real database file: claims paid and the fund settled, the ledger verifies."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app import cli
from app.auth.principal import Principal
from app.config import Settings
from app.db import make_engine, make_session_factory, session_scope
from app.riskfund import service as fund_service
from app.riskfund.models import RiskFund
from app.servicing.models import EventKind
from app.servicing.service import record_event
from app.subsidy import service as subsidy_service
from app.subsidy.models import SubsidyStatement
from tests import factories

runner = CliRunner()
CENTER = Principal.operator("center (test)")


@pytest.fixture
def db_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    engine = make_engine(settings.database_url)
    yield make_session_factory(engine)
    engine.dispose()


def run(*args: str) -> str:
    result = runner.invoke(cli.app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_settle_pay_compute_confirm_pay_then_verify(db_file, set_today):
    set_today("2026-03-20")
    with session_scope(db_file) as session:
        loan = factories.make_loan(session)
        record_event(session, Principal.operator("bank"), loan, kind=EventKind.disbursement,
                     event_date=dt.date(2026, 3, 20), amount=Decimal("6000"))
    set_today("2026-06-20")
    # 6000 × 0.0612 × 92 / 360 = 93.84 (see tests/subsidy/test_statements.py).
    assert "1 statements, 1 lines, total 93.84" in run("subsidy", "settle", "--date",
                                                       "2026-06-20")
    assert "0 statements" in run("subsidy", "settle", "--date", "2026-06-20")
    with session_scope(db_file) as session:
        statement = session.scalars(sa.select(SubsidyStatement)).one()
        subsidy_service.approve(session, CENTER, statement_id=statement.id)
        subsidy_service.pay(session, CENTER, statement_id=statement.id,
                            paid_on=dt.date(2026, 6, 20))
    set_today("2027-01-05")
    # 0.15 × 6000.00 = 900.00.
    assert "2026: 1 funds computed, total 900.00" in run("risk-fund", "compute", "--date",
                                                         "2027-01-05")
    assert "2026: 0 funds computed" in run("risk-fund", "compute", "--date", "2027-01-05")
    with session_scope(db_file) as session:
        fund = session.scalars(sa.select(RiskFund)).one()
        fund_service.confirm(session, CENTER, fund_id=fund.id, disbursed=Decimal("6000.00"))
        fund_service.pay(session, CENTER, fund_id=fund.id, paid_on=dt.date(2027, 1, 5))
    assert "ledger verified" in run("ledger", "verify")
