"""``loans bankfiles upload / process / report`` on a database of their own."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app import cli
from app.bankfiles.bench import seed_bank, write_repayments
from app.config import Settings
from app.db import make_engine, make_session_factory, session_scope

runner = CliRunner()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    return settings


def test_upload_process_report(settings: Settings, tmp_path: Path) -> None:
    engine = make_engine(settings.database_url)
    with session_scope(make_session_factory(engine)) as session:
        bank_id, loans = seed_bank(session, loans=3, tag="cli")
    engine.dispose()
    path = tmp_path / "repayments.csv"
    write_repayments(path, lines=30, loans=loans, post_every=3, value_date=dt.date(2026, 1, 20))
    uploaded = runner.invoke(cli.app, ["bankfiles", "upload", str(path), "--bank-id",
                                       str(bank_id)])
    assert uploaded.exit_code == 0, uploaded.output
    upload_id = uploaded.output.split()[1]
    again = runner.invoke(cli.app, ["bankfiles", "upload", str(path), "--bank-id", str(bank_id)])
    assert "uploaded before" in again.output
    done = runner.invoke(cli.app, ["bankfiles", "process", upload_id, "--date", "2026-01-31"])
    assert done.exit_code == 0 and f"upload {upload_id}: done" in done.output, done.output
    report = json.loads(runner.invoke(cli.app, ["bankfiles", "report", upload_id]).output)
    assert (report["posted"], report["exceptions_by_reason"]["unknown_contract"]["count"]) == (
        10, 20)
    assert "processed 0 uploads" in runner.invoke(cli.app, ["bankfiles", "process"]).output
    missing = runner.invoke(cli.app, ["bankfiles", "report", "999"])
    assert missing.exit_code == 2
