"""Domain errors and the one JSON error shape.

Every error the API returns is
``{"error": {"code", "message", "field"?, "details"?}}``.  Services raise
``DomainError`` subclasses (``NotFound``, ``Conflict``, ...); the handlers
installed by ``install_error_handlers`` render them, FastAPI's validation errors
(422 ``validation_error``), Starlette's HTTP errors (unknown route 404, 405, ...),
database constraint violations (409 ``conflict``), values the database cannot
hold (422 ``invalid_input``) and, as a last resort,
anything else (500 ``internal_error``, no stack in the body).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """An error a client can act on: HTTP status, machine code, message."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        field: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.field = field
        self.details = details


class _StatusError(DomainError):
    status: ClassVar[int]
    default_code: ClassVar[str]

    def __init__(
        self,
        message: str,
        field: str | None = None,
        details: Any = None,
        *,
        code: str | None = None,
    ) -> None:
        super().__init__(self.status, code or self.default_code, message, field, details)


class NotFound(_StatusError):
    status, default_code = 404, "not_found"


class Conflict(_StatusError):
    status, default_code = 409, "conflict"


class InvalidInput(_StatusError):
    status, default_code = 422, "invalid_input"


class Unauthorized(_StatusError):
    status, default_code = 401, "unauthorized"


class Forbidden(_StatusError):
    status, default_code = 403, "forbidden"


class TooLarge(_StatusError):
    status, default_code = 413, "too_large"


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None
    details: Any = None


class ErrorBody(BaseModel):
    """The one error shape, as documented in OpenAPI."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in [
        (400, "Unparseable request body"),
        (401, "No, unknown or revoked API key"),
        (403, "The caller's role may not do this"),
        (404, "Not found, or not visible to the caller"),
        (409, "Conflicts with the current state"),
        (413, "Request body too large"),
        (422, "Invalid input"),
        (429, "Too many requests with this API key; see Retry-After"),
    ]
}


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    if details is not None:
        body["details"] = jsonable_encoder(details)
    return JSONResponse({"error": body}, status_code=status_code, headers=headers)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or str(loc[0] if loc else "")


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    return error_response(
        exc.status_code,
        exc.code,
        exc.message,
        field=exc.field,
        details=exc.details,
        headers=headers,
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    field = _location(first["loc"])
    return error_response(
        422,
        "validation_error",
        f"{field}: {first['msg']}" if field else first["msg"],
        field=field or None,
        details=errors,
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    code = codes.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message, headers=exc.headers)


async def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    # Services check what they can; a constraint the database still refuses
    # (e.g. a concurrent duplicate) is the client's conflict, not a 500.
    log.info("integrity error: %s", exc)
    return error_response(409, "conflict", "conflicts with existing data")


async def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    # A value the database cannot hold, e.g. an id beyond BIGINT (PostgreSQL:
    # DataError; SQLite's driver: OverflowError).
    log.info("data error: %s", exc)
    return error_response(422, "invalid_input", "a value is out of range for the database")


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Rendered outside the request-id middleware: name the id here, so the
    # caller can quote it and the log line be found.
    request_id = getattr(request.state, "request_id", None)
    log.exception(
        "unhandled error on %s %s", request.method, request.url.path,
        exc_info=exc, extra={"request_id": request_id},
    )
    if request_id is None:
        return error_response(500, "internal_error", "internal error")
    return error_response(
        500, "internal_error", "internal error",
        details={"request_id": request_id}, headers={"X-Request-ID": request_id},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OverflowError, _data_error)
    app.add_exception_handler(Exception, _unexpected_error)
