"""Request body limits and per-key rate limits (413 and 429 in the JSON error shape).

* Bodies: JSON requests up to ``max_body_bytes``, uploads (any other body,
  e.g. multipart/form-data or text/csv) up to ``max_upload_bytes``.  A declared
  ``Content-Length`` over the limit is refused before anything is read; a
  chunked body is counted as it is read and refused when it passes the limit.
* Rates: writes (POST, PUT, PATCH, DELETE) and uploads each have a token
  bucket per API key (keyed by the key's public prefix).  The buckets live in
  the server process: with N processes a key gets up to N times the rate.
  Requests without a bearer key are not limited here (they answer 401).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.errors import error_response

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_upload(headers: Headers) -> bool:
    """A request whose body is a file rather than a JSON document."""
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    return bool(media_type) and not (
        media_type == "application/json" or media_type.endswith("+json")
    )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.max_upload_bytes if is_upload(headers) else self.max_body_bytes
        message = f"request body larger than {limit} bytes"
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            response = error_response(413, "too_large", message, headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            incoming = await receive()
            if incoming["type"] == "http.request":
                received += len(incoming.get("body", b""))
                if received > limit:
                    raise HTTPException(413, message)
            return incoming

        await self.app(scope, counted_receive, send)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Token buckets keyed by string: ``per_minute`` refill, ``burst`` capacity."""

    MAX_KEYS = 100_000

    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(burst, 1)
        self.buckets: dict[str, _Bucket] = {}

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token for ``key``: 0 if granted, else seconds until one is due."""
        now = time.monotonic() if now is None else now
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= self.MAX_KEYS:
                self._forget_full(now)
            bucket = self.buckets[key] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled (forgetting them changes nothing)."""
        for key, bucket in list(self.buckets.items()):
            if bucket.tokens + (now - bucket.updated) * self.rate >= self.burst:
                del self.buckets[key]


def _key_prefix(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip().partition(".")[0]


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.writes = self._buckets(
            settings.rate_limit_writes_per_minute, settings.rate_limit_writes_burst
        )
        self.uploads = self._buckets(
            settings.rate_limit_uploads_per_minute, settings.rate_limit_uploads_burst
        )

    @staticmethod
    def _buckets(per_minute: int, burst: int) -> TokenBuckets | None:
        return TokenBuckets(per_minute, burst) if per_minute > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in WRITE_METHODS:
            headers = Headers(scope=scope)
            prefix = _key_prefix(headers)
            upload = is_upload(headers)
            buckets = self.uploads if upload else self.writes
            if prefix is not None and buckets is not None:
                wait = buckets.take(prefix)
                if wait > 0:
                    kind = "uploads" if upload else "writes"
                    response = error_response(
                        429,
                        "rate_limited",
                        f"too many {kind} with this API key; retry in {math.ceil(wait)} s",
                        headers={"Retry-After": str(math.ceil(wait))},
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class ConcurrencyLimitMiddleware:
    """At most ``limit`` requests in progress in this process; the others wait
    (in the event loop, holding nothing).  With ``limit`` no larger than the
    connection pool, every request in progress can get its connection: without
    it, requests holding a connection while they wait for a worker thread and
    threads waiting for a connection block each other until the pool times out."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.semaphore: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.semaphore is None:  # created in the server's event loop
            self.semaphore = asyncio.Semaphore(self.limit)
        async with self.semaphore:
            await self.app(scope, receive, send)
