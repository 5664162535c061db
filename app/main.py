"""The application factory: ``uvicorn app.main:create_app --factory``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy.orm import sessionmaker

from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.config import Settings, get_settings
from app.db import make_engine, make_session_factory
from app.defaults.router import router as defaults_router
from app.deps import DbSession
from app.errors import ERROR_RESPONSES, error_response, install_error_handlers
from app.reference.router import router as reference_router
from app.servicing.router import router as servicing_router
from app.simulation.router import router as simulation_router
from app.subsidy.router import router as subsidy_router

# Routers mounted under /v1.  A new module adds its router here.
ROUTERS = [auth_router, reference_router, audit_router, servicing_router, simulation_router,
           subsidy_router, defaults_router]


def create_app(
    settings: Settings | None = None, *, session_factory: sessionmaker | None = None
) -> FastAPI:
    """The API.  ``session_factory`` replaces the one built from
    ``settings.database_url`` (tests bind it to their own connection)."""
    settings = settings or get_settings()
    engine = None
    if session_factory is None:
        engine = make_engine(settings.database_url, echo=settings.echo_sql)
        session_factory = make_session_factory(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Hook: the scheduler (jobs/) starts here, after the database is reachable,
        # and stops after the yield.
        yield
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

    @app.get("/health", tags=["health"])
    def health(session: DbSession) -> JSONResponse:
        """Liveness and database check (``SELECT 1``); no API key needed."""
        try:
            session.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return error_response(503, "database_unavailable", "database unavailable")
        return JSONResponse({"status": "ok", "database": "ok"})

    return app
