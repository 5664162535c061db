"""Job runs over HTTP, for the center's staff and admins: status, chunks, retry."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query

from app.audit.service import record, snapshot
from app.auth.deps import CurrentPrincipal
from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import get_visible, require_role, scope_rule, select_visible
from app.deps import DbSession
from jobs import runner
from jobs.models import JobChunk, JobRun, RunStatus
from jobs.registry import load_jobs
from jobs.schemas import JobOut, JobRunDetail, JobRunOut

router = APIRouter(prefix="/jobs", tags=["jobs"])


@scope_rule(JobRun)
def _runs(principal: Principal) -> sa.ColumnElement[bool]:
    """Runs are national: every center's staff sees them; banks and universities none."""
    return sa.true() if principal.role == Role.center_staff else sa.false()


@router.get("", response_model=list[JobOut])
def list_jobs(principal: CurrentPrincipal) -> list[JobOut]:
    require_role(principal, Role.center_staff)
    return [JobOut(name=j.name, description=j.description, after=list(j.after))
            for j in load_jobs().values()]


@router.get("/runs", response_model=list[JobRunOut])
def list_runs(
    session: DbSession,
    principal: CurrentPrincipal,
    job: str | None = None,
    status: RunStatus | None = None,
    business_date: dt.date | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: int | None = Query(None, description="page: runs older than this id"),
) -> list[JobRun]:
    """The latest runs first: status, chunks done of total, counts, timings, error."""
    require_role(principal, Role.center_staff)
    query = select_visible(principal, JobRun)
    for column, value in ((JobRun.job, job), (JobRun.status, status),
                          (JobRun.business_date, business_date)):
        if value is not None:
            query = query.where(column == value)
    if before_id is not None:
        query = query.where(JobRun.id < before_id)
    return list(session.scalars(query.order_by(JobRun.id.desc()).limit(limit)))


@router.get("/runs/{run_id}", response_model=JobRunDetail)
def get_run(session: DbSession, principal: CurrentPrincipal, run_id: int) -> JobRunDetail:
    require_role(principal, Role.center_staff)
    run = get_visible(session, principal, JobRun, run_id)
    chunks = session.scalars(sa.select(JobChunk).where(JobChunk.run_id == run.id)
                             .order_by(JobChunk.seq)).all()
    return JobRunDetail.model_validate(
        {**JobRunOut.model_validate(run).model_dump(), "chunks": chunks})


@router.post("/runs/{run_id}/retry", response_model=JobRunOut)
def retry_run(session: DbSession, principal: CurrentPrincipal, run_id: int) -> JobRun:
    """A failed run's failed chunks go back to the queue; the done ones stay done."""
    require_role(principal)  # admins only
    before = snapshot(get_visible(session, principal, JobRun, run_id))
    run = runner.retry(session, run_id)
    record(session, principal, "job_run.retry", run, before=before, after=snapshot(run))
    return run
