"""``loans jobs rerun JOB DATE``: a done date is redone from scratch; metrics count it."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app import cli
from app.errors import Conflict
from jobs import cli as jobs_cli
from jobs import runner
from jobs.models import JobChunk, JobRun, RunStatus

DAY = dt.date(2027, 3, 20)


def test_rerun_redoes_a_done_date(db, factory, make_loan, monkeypatch) -> None:
    make_loan()
    monkeypatch.setattr(jobs_cli, "_factory", lambda: factory)
    first = CliRunner().invoke(cli.app, ["jobs", "run", "daily_servicing", "--date", str(DAY)])
    assert first.exit_code == 0, first.output
    run = db.scalars(sa.select(JobRun).where(JobRun.business_date == DAY)).one()
    chunks_before = db.scalars(sa.select(JobChunk.id).where(JobChunk.run_id == run.id)).all()
    finished_before = run.finished_at
    assert run.status == RunStatus.done

    again = CliRunner().invoke(cli.app, ["jobs", "rerun", "daily_servicing", str(DAY)])
    assert again.exit_code == 0, again.output
    assert f"run {run.id}: daily_servicing {DAY} done" in again.output
    db.expire_all()
    chunks_after = db.scalars(sa.select(JobChunk.id).where(JobChunk.run_id == run.id)).all()
    redone = db.get(JobRun, run.id)
    assert redone.status == RunStatus.done and redone.finished_at > finished_before
    assert not set(chunks_after) & set(chunks_before)  # planned afresh, not reused


def test_a_running_date_is_not_reset(db) -> None:
    run = runner.enqueue(db, "daily_servicing", DAY)
    run.status = RunStatus.running
    with pytest.raises(Conflict):
        runner.reset(db, "daily_servicing", DAY)
