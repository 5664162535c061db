"""The outermost middleware: request id, access log line and latency metric."""

from __future__ import annotations

import logging
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability import context, metrics

log = logging.getLogger("app.access")

REQUEST_ID_HEADER = "X-Request-ID"


def route_template(scope: Scope) -> str:
    """The matched route's full path template (``/v1/loans/{loan_id}``).

    FastAPI keeps the template with the include prefix in its effective route
    context; ``scope["route"]`` alone holds the path relative to its router
    (and the full one for routes of the app itself).
    """
    effective = scope.get("fastapi", {}).get("effective_route_context")
    template = getattr(effective, "path_format", None) or getattr(scope.get("route"), "path", None)
    return template or "unmatched"


class RequestContextMiddleware:
    """Binds the request id (``X-Request-ID`` or a new one, echoed in the
    response and kept in ``request.state.request_id``), then logs and times the
    request under its route template ("unmatched" when no route matched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = context.accept_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        started = time.perf_counter()
        with context.bound(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                seconds = time.perf_counter() - started
                route = route_template(scope)
                metrics.observe_request(scope["method"], route, status, seconds)
                log.info(
                    "%s %s %s",
                    scope["method"],
                    route,
                    status,
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 1),
                    },
                )
