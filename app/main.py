"""The application factory: ``uvicorn app.main:create_app --factory``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.orm import sessionmaker

from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.bankfiles.router import router as bankfiles_router
from app.config import Settings, get_settings
from app.db import make_engine, make_session_factory
from app.defaults.router import router as defaults_router
from app.errors import ERROR_RESPONSES, install_error_handlers
from app.limits import BodyLimitMiddleware, ConcurrencyLimitMiddleware, RateLimitMiddleware
from app.observability.logging import configure_logging
from app.observability.middleware import RequestContextMiddleware
from app.observability.router import router as operations_router
from app.origination.router import router as origination_router
from app.reference.router import router as reference_router
from app.riskfund.router import router as riskfund_router
from app.servicing.router import router as servicing_router
from app.simulation.router import router as simulation_router
from app.subsidy.router import router as subsidy_router
from jobs.router import router as jobs_router

# Routers mounted under /v1.  A new module adds its router here.
ROUTERS = [
    auth_router, reference_router, audit_router, servicing_router, simulation_router,
    subsidy_router, defaults_router, riskfund_router, origination_router, bankfiles_router,
    jobs_router,
]


def create_app(
    settings: Settings | None = None, *, session_factory: sessionmaker | None = None
) -> FastAPI:
    """The API.  ``session_factory`` replaces the one built from
    ``settings.database_url`` (tests bind it to their own connection)."""
    settings = settings or get_settings()
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    engine = None
    if session_factory is None:
        engine = make_engine(settings.database_url, echo=settings.echo_sql,
                             pool_size=settings.db_pool_size,
                             max_overflow=settings.db_max_overflow)
        session_factory = make_session_factory(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The single-machine default (make run): the job scheduler and an
        # in-process worker live in the API process (jobs/scheduler.py).
        scheduler = None
        if settings.run_scheduler and engine is not None:
            from jobs.scheduler import build_scheduler

            scheduler = build_scheduler(session_factory, blocking=False,
                                        drain_every_seconds=60)
            scheduler.start()
        yield
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        if engine is not None:
            engine.dispose()

    app = FastAPI(
        title="National student loans servicing",
        version="0.1.0",
        description="Servicing backend for China's national student loans (国家助学贷款).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.session_factory = session_factory
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, prefix="/v1", responses=ERROR_RESPONSES)
    app.include_router(operations_router)
    if settings.bench_routes:
        from jobs.bench_route import router as bench_router

        app.include_router(bench_router)
    # Outermost last: request id and metrics see every answer, 413 and 429 included.
    app.add_middleware(
        ConcurrencyLimitMiddleware, limit=settings.db_pool_size + settings.db_max_overflow)
    app.add_middleware(RateLimitMiddleware, settings=settings)
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    app.add_middleware(RequestContextMiddleware)
    return app
