"""Load on a real server: the API run by uvicorn as a subprocess (worker
processes, as in production) and the tally of what concurrent HTTP clients got
back.  Shared by ``loans bench`` (the API figure) and ``scripts/load.py``."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from app.config import REPO_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def api_server(database_url: str, *, workers: int = 2, port: int | None = None,
               env: dict[str, str] | None = None) -> Iterator[str]:
    """uvicorn serving the API on ``database_url``; yields its base URL once
    ``/ready`` answers, stops it afterwards.  ``env``: more ``LOANS_`` settings."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    environment = os.environ | {"LOANS_DATABASE_URL": database_url, "LOANS_LOG_LEVEL": "WARNING",
                                "LOANS_RUN_SCHEDULER": "false"} | (env or {})
    # The load's clients keep their connections for the whole run: with
    # uvicorn's default keep-alive (5 s) a connection idle between two sides
    # is closed, and a request sent just as it closes fails (ReadError).
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log",
         "--log-level", "warning", "--backlog", "4096", "--timeout-keep-alive", "300"],
        cwd=REPO_ROOT, env=environment)
    try:
        _wait_ready(base, server)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_ready(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the API server exited with status {server.returncode}")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the API server did not become ready within 60 s")


@dataclass
class Tally:
    """Every answer's status (a transport failure counts as ``transport:Name``);
    the latencies of the answers that arrived inside the measured window
    (``perf_counter`` times; everything by default)."""

    window: tuple[float, float] = (-math.inf, math.inf)
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    async def send(self, request: Awaitable[httpx.Response]) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await request
        except httpx.HTTPError as exc:
            self.statuses[f"transport:{type(exc).__name__}"] += 1
            return None
        ended = time.perf_counter()
        self.statuses[response.status_code] += 1
        if self.window[0] <= ended <= self.window[1]:
            self.latencies.append(ended - started)
        return response

    def percentile_ms(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0

    def failures(self) -> dict[str, int]:
        """5xx answers and transport failures: never acceptable under load."""
        return {str(s): n for s, n in self.statuses.items()
                if not isinstance(s, int) or s >= 500}
