"""Probes and metrics, at the root (no API key): ``/health``, ``/ready``, ``/metrics``."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.db import applied_revisions, migration_heads
from app.deps import DbSession
from app.errors import ErrorBody, error_response
from app.observability import metrics

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])

_UNAVAILABLE = {503: {"model": ErrorBody, "description": "Not ready or database unavailable"}}


@router.get("/health", responses=_UNAVAILABLE)
def health(session: DbSession) -> JSONResponse:
    """Liveness and database check (``SELECT 1``)."""
    try:
        session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        log.warning("health: database unavailable", exc_info=True)
        return error_response(503, "database_unavailable", "database unavailable")
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/ready", responses=_UNAVAILABLE)
def ready(session: DbSession) -> JSONResponse:
    """Ready for traffic: the database answers and its schema is at this code's
    migration head (``loans migrate`` has run)."""
    try:
        applied = applied_revisions(session.connection())
    except sa.exc.SQLAlchemyError:
        log.warning("ready: database unavailable", exc_info=True)
        return error_response(503, "database_unavailable", "database unavailable")
    expected = migration_heads()
    if applied != expected:
        return error_response(
            503,
            "migrations_pending",
            "database schema is not at the migration head: run `loans migrate`",
            details={"database": sorted(applied), "code": sorted(expected)},
        )
    return JSONResponse({"status": "ready", "revision": ",".join(sorted(applied))})


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}},
)
def prometheus_metrics(request: Request) -> Response:
    """Prometheus exposition format (request latency, jobs, uploads, queues)."""
    body = metrics.render(request.app.state.session_factory)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
