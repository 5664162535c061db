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


NS_PER_SECOND = 10**9
# A bucket counts tokens in units of 1/(60 * 10**9) token: refilling at
# ``per_minute`` tokens a minute, it gains exactly ``per_minute`` units a
# nanosecond, so time (``time.monotonic_ns``) and tokens stay integers and a
# refill never drifts by a rounding.
TOKEN = 60 * NS_PER_SECOND


@dataclass(slots=True)
class _Bucket:
    units: int  # tokens held, in 1/TOKEN
    updated_ns: int


class TokenBuckets:
    """Token buckets keyed by string: ``per_minute`` refill, ``burst`` capacity."""

    MAX_KEYS = 100_000

    def __init__(self, per_minute: int, burst: int) -> None:
        self.per_minute = per_minute
        self.capacity = max(burst, 1) * TOKEN
        self.buckets: dict[str, _Bucket] = {}

    def take(self, key: str, now_ns: int | None = None) -> int:
        """Take one token for ``key``: 0 if granted, else nanoseconds until one is due."""
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= self.MAX_KEYS:
                self._forget_full(now_ns)
            bucket = self.buckets[key] = _Bucket(self.capacity, now_ns)
        bucket.units = self._refilled(bucket, now_ns)
        bucket.updated_ns = now_ns
        if bucket.units >= TOKEN:
            bucket.units -= TOKEN
            return 0
        return -(-(TOKEN - bucket.units) // self.per_minute)  # ceiling

    def _refilled(self, bucket: _Bucket, now_ns: int) -> int:
        return min(self.capacity, bucket.units + (now_ns - bucket.updated_ns) * self.per_minute)

    def _forget_full(self, now_ns: int) -> None:
        """Drop buckets that have refilled (forgetting them changes nothing)."""
        for key, bucket in list(self.buckets.items()):
            if self._refilled(bucket, now_ns) >= self.capacity:
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
                wait_ns = buckets.take(prefix)
                if wait_ns > 0:
                    kind = "uploads" if upload else "writes"
                    seconds = -(-wait_ns // NS_PER_SECOND)  # ceiling
                    response = error_response(
                        429,
                        "rate_limited",
                        f"too many {kind} with this API key; retry in {seconds} s",
                        headers={"Retry-After": str(seconds)},
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
