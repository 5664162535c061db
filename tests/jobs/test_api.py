"""Job status over HTTP: center staff and admins read, admins retry; others are refused."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.auth.models import Role
from jobs import daily, runner
from jobs.models import ChunkStatus, JobChunk, JobRun, RunStatus


def test_center_staff_reads_runs_and_chunks(db, client, factory, auth_headers, make_center,
                                            make_bank):
    day = dt.date(2027, 3, 20)
    with factory.begin() as session:
        run = runner.enqueue(session, daily.NAME, day)
    staff = auth_headers(Role.center_staff, make_center())
    listed = client.get("/v1/jobs/runs", headers=staff)
    assert listed.status_code == 200
    assert [(r["id"], r["job"], r["business_date"], r["status"]) for r in listed.json()] == [
        (run.id, "daily_servicing", "2027-03-20", "pending")]
    one = client.get(f"/v1/jobs/runs/{run.id}", headers=staff).json()
    assert one["chunks"] == [] and one["chunks_total"] == 0
    assert client.get("/v1/jobs/runs?status=done", headers=staff).json() == []
    names = [j["name"] for j in client.get("/v1/jobs", headers=staff).json()]
    assert "daily_servicing" in names
    bank = auth_headers(Role.bank_operator, make_bank())
    assert client.get("/v1/jobs/runs", headers=bank).status_code == 403
    assert client.get(f"/v1/jobs/runs/{run.id}", headers=bank).status_code == 403
    assert client.get("/v1/jobs/runs/999999", headers=staff).status_code == 404


def test_admin_retries_a_failed_run_and_it_is_audited(db, client, factory, auth_headers,
                                                      make_center):
    with factory.begin() as session:
        run = runner.enqueue(session, daily.NAME, dt.date(2027, 3, 21))
        run.status, run.error, run.chunks_total = RunStatus.failed, "boom", 1
        session.add(JobChunk(run_id=run.id, seq=1, lo=1, hi=9, status=ChunkStatus.failed,
                             error="boom"))
    staff = auth_headers(Role.center_staff, make_center())
    assert client.post(f"/v1/jobs/runs/{run.id}/retry", headers=staff).status_code == 403
    admin = auth_headers(Role.admin)
    body = client.post(f"/v1/jobs/runs/{run.id}/retry", headers=admin).json()
    assert (body["status"], body["error"]) == ("running", None)
    again = client.post(f"/v1/jobs/runs/{run.id}/retry", headers=admin)
    assert again.status_code == 409
    db.expire_all()
    assert db.scalar(sa.select(JobChunk.status).where(JobChunk.run_id == run.id)) == \
        ChunkStatus.pending
    assert db.get(JobRun, run.id).status == RunStatus.running
    audit = client.get("/v1/audit?entity_type=job_runs", headers=admin).json()
    assert [a["action"] for a in audit] == ["job_run.retry"]
