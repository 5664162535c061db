"""``Idempotency-Key`` for any POST: a retry returns the first response.

Use in an endpoint::

    def create(session: DbSession, principal: CurrentPrincipal, body: XIn,
               idem: IdempotencyDep) -> JSONResponse:
        return idempotent(session, principal, idem, 201,
                          lambda: XOut.model_validate(service.create(...)))

Without the header the request simply runs.  With it, the key is claimed by
inserting its row *before* the work, in the request's transaction: a
concurrent request with the same key waits on the unique index until the
first commits, then finds the stored response and replays it; if the first
failed (rolled back, key row gone), the second runs.  Errors are not stored,
so a refused request may be retried with the same key.  The same key with a
different method, path or body answers 409 ``idempotency_conflict``.  Keys
are per caller (user), kept ``idempotency_key_days`` (``purge_before``, run
by the nightly ``idempotency_keys`` job).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.errors import Conflict
from app.idempotency.models import IdempotencyKey

REPLAY_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True, slots=True)
class RequestKey:
    """The request as far as idempotency cares: key, method, path, body hash."""

    key: str | None
    method: str
    path: str
    body_sha256: str


def _body_hash(raw: bytes) -> str:
    """SHA-256 of the body as canonical JSON (key order and spacing do not matter)."""
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = raw
    return hashlib.sha256(canonical).hexdigest()


async def request_key(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(min_length=1, max_length=200,
               description="Client-chosen key: a retry with the same key and body "
                           "returns the first response and creates nothing"),
    ] = None,
) -> RequestKey:
    return RequestKey(idempotency_key, request.method, request.url.path,
                      _body_hash(await request.body()))


IdempotencyDep = Annotated[RequestKey, Depends(request_key)]


def _caller(principal: Principal) -> str:
    if principal.user_id is not None:
        return f"user:{principal.user_id}"
    return f"operator:{principal.user_name}"[:64]


def _claim(session: Session, caller: str, req: RequestKey) -> tuple[IdempotencyKey, bool]:
    """(row, True) if this request claimed the key, (the first request's row, False) if not."""
    assert req.key is not None
    row = IdempotencyKey(caller=caller, key=req.key, method=req.method, path=req.path,
                         body_sha256=req.body_sha256)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return row, True
    except IntegrityError:
        first = session.scalars(
            sa.select(IdempotencyKey).where(IdempotencyKey.caller == caller,
                                            IdempotencyKey.key == req.key)
        ).one()
        return first, False


def idempotent(
    session: Session,
    principal: Principal,
    req: RequestKey,
    status_code: int,
    produce: Callable[[], Any],
) -> JSONResponse:
    """Run ``produce`` (the creation; returns the response model) at most once per key."""
    if req.key is None:
        return JSONResponse(jsonable_encoder(produce()), status_code=status_code)
    row, claimed = _claim(session, _caller(principal), req)
    if not claimed:
        if (row.method, row.path, row.body_sha256) != (req.method, req.path, req.body_sha256):
            raise Conflict(
                "this Idempotency-Key was already used with a different request",
                field="Idempotency-Key", code="idempotency_conflict",
                details={"first_path": row.path},
            )
        return JSONResponse(row.response_body, status_code=row.status_code or 200,
                            headers={REPLAY_HEADER: "true"})
    body = jsonable_encoder(produce())
    row.status_code, row.response_body = status_code, body
    session.flush()
    return JSONResponse(body, status_code=status_code)


def purge_before(session: Session, cutoff: dt.datetime) -> int:
    """Delete the keys claimed before ``cutoff`` (their stored responses with
    them); returns how many.  A key still being claimed is never that old."""
    return session.execute(
        sa.delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff),
        execution_options={"preserve_rowcount": True}).rowcount
