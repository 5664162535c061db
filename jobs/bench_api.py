"""The API figure of ``loans bench`` (performance.md, last paragraph):
origination requests per second with quota checks, against a bare endpoint
of the same server doing one INSERT, measured in the same run.

The server is uvicorn with ``workers`` processes, as in production, on the
bench's database (its schema's URL), with the bare endpoint mounted
(``LOANS_BENCH_ROUTES``, jobs/bench_route.py) and the per-key rate limits off:
the figure measures the work, not the throttle.  Each client is a university
aid office with its own officer key, paired with a bank operator key of the
center's bank; one origination is four requests: the student's application,
its vetting, its batch, and the bank's approval, which consumes the
university's quota (the guarded UPDATE of ``consume_quota``).  The quota is
ample unless given; approvals it refuses (409 ``quota_exceeded``) are a real
outcome, counted and shown.  Each side is warmed up (one unit of work per
client, then a few seconds), then measured for ``seconds``; any 5xx,
transport failure or other unexpected answer fails the bench, and afterwards
every 201 must be a row in the database.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.auth import service as auth
from app.auth.models import ROLE_ORG, Role
from app.auth.principal import Principal
from app.db import make_session_factory, session_scope
from app.origination.models import Application, Batch, Decision, DecisionKind, Quota
from app.origination.quota import create_quota
from jobs.bench import id_number
from jobs.bench_route import BARE
from jobs.http_load import Tally, api_server

OPERATOR = Principal.operator("loans bench")
YEAR = "2025-2026"
AMOUNT = Decimal("6000.00")  # the policy's per-year cap
AMPLE_QUOTA = Decimal("1000000000000.00")  # 166 million approvals: never the limit
SUBMITTED_ON, DECIDED_ON = "2025-09-10", "2025-09-12"  # in the past whatever the server's date
SERVER_ENV = {"LOANS_BENCH_ROUTES": "true", "LOANS_RATE_LIMIT_WRITES_PER_MINUTE": "0"}


def warmup_seconds(seconds: float) -> float:
    return min(3.0, seconds / 3)


@dataclass
class Outcome:
    """What the clients got over the whole run (warm-up included)."""

    created: Counter = field(default_factory=Counter)  # expected answers, by step
    quota_refused: int = 0
    unexpected: list[str] = field(default_factory=list)


def student(n: int) -> dict[str, Any]:
    return {"name": f"学生{n}", "id_number": id_number(n), "category": "undergraduate",
            "full_time": True, "enrolled_on": "2025-09-01",
            "expected_graduation_on": "2029-06-30", "phone": "13800000000"}


async def originate(http: httpx.AsyncClient, office: tuple[dict[str, str], dict[str, str]],
                    tally: Tally, outcome: Outcome, n: int) -> None:
    """One origination, step by step, with the office's (officer, bank) headers;
    stops at the first answer not expected."""
    officer, bank = office

    async def step(name: str, request: Awaitable[httpx.Response], expected: int
                   ) -> dict[str, Any] | None:
        response = await tally.send(request)
        if response is None or response.status_code >= 500:
            return None  # counted by the tally as a failure
        if response.status_code == expected:
            outcome.created[name] += 1
            return response.json()
        if name == "approval" and response.status_code == 409 \
                and response.json()["error"]["code"] == "quota_exceeded":
            outcome.quota_refused += 1
        else:
            outcome.unexpected.append(f"{name}: {response.status_code} {response.text[:300]}")
        return None

    application = await step("application", http.post("/v1/applications", headers=officer, json={
        "student": student(n), "academic_year": YEAR, "materials_complete": True,
        "years": [{"academic_year": YEAR, "amount": str(AMOUNT)}]}), 201)
    if application is None:
        return
    path = f"/v1/applications/{application['id']}"
    if await step("vetting", http.post(f"{path}/vet", headers=officer), 200) is None:
        return
    if await step("batch", http.post("/v1/batches", headers=officer, json={
            "application_ids": [application["id"]], "submitted_on": SUBMITTED_ON}), 201) is None:
        return
    await step("approval", http.post(f"{path}/decision", headers=bank, json={
        "decision": "approved", "decided_on": DECIDED_ON}), 201)


async def drive(clients: int, seconds: float,
                unit: Callable[[int, Tally], Awaitable[None]]) -> Tally:
    """``clients`` concurrent loops of ``unit`` (client number, tally): first
    one unit each, so the server's cold paths are behind every client, then
    on through the warm-up and the measured ``seconds``.  The tally's window
    is the measured part."""

    async def loop(i: int, until: float) -> None:
        await unit(i, tally)
        while time.perf_counter() < until:
            await unit(i, tally)

    tally = Tally(window=(math.inf, math.inf))
    await asyncio.gather(*(loop(i, 0.0) for i in range(clients)))
    start = time.perf_counter() + warmup_seconds(seconds)
    tally.window = (start, start + seconds)
    await asyncio.gather(*(loop(i, tally.window[1]) for i in range(clients)))
    return tally


def prepare(engine: Engine, ids: dict[str, int], *, clients: int,
            quota: Decimal) -> list[tuple[dict[str, str], dict[str, str]]]:
    """The bare table, the university's quota for the year, and each client's
    keys: (university officer headers, bank operator headers)."""
    BARE.create(engine)
    with session_scope(make_session_factory(engine)) as session:
        create_quota(session, OPERATOR, university_id=ids["university"], academic_year=YEAR,
                     actual=quota, reason="loans bench")

        def key(role: Role, org_id: int, i: int) -> dict[str, str]:
            user = auth.create_user(session, OPERATOR, name=f"bench {ROLE_ORG[role].value} {i}",
                                    role=role, org_id=org_id)
            return {"Authorization": f"Bearer {auth.issue_key(session, OPERATOR, user=user)[1]}"}

        return [(key(Role.university_officer, ids["university"], i),
                 key(Role.bank_operator, ids["bank"], i)) for i in range(clients)]


def measure(engine: Engine, ids: dict[str, int], *, clients: int, seconds: float,
            workers: int, students_from: int, quota: Decimal = AMPLE_QUOTA) -> dict[str, Any]:
    """The figure: both sides on one server, then the rows counted."""
    offices = prepare(engine, ids, clients=clients, quota=quota)
    outcome = Outcome()
    students = itertools.count(students_from)

    async def bare_insert(http: httpx.AsyncClient, i: int, tally: Tally) -> None:
        response = await tally.send(http.post("/bench/bare-insert", json={"note": f"client {i}"}))
        if response is not None and response.status_code == 201:
            outcome.created["bare"] += 1

    async def both_sides(base: str) -> tuple[Tally, Tally]:
        # One client object for all (creating one costs tens of milliseconds,
        # which would stall every request in flight), a connection per client.
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=httpx.Limits(
                max_connections=clients, max_keepalive_connections=clients)) as http:
            bare = await drive(clients, seconds, lambda i, tally: bare_insert(http, i, tally))
            origination = await drive(clients, seconds, lambda i, tally: originate(
                http, offices[i], tally, outcome, next(students)))
        return bare, origination

    with api_server(engine.url.render_as_string(hide_password=False), workers=workers,
                    env=SERVER_ENV) as base:
        bare, origination = asyncio.run(both_sides(base))

    failures = {"bare": bare.failures(), "origination": origination.failures()}
    if failures["bare"] or failures["origination"] or outcome.unexpected:
        raise RuntimeError(f"API figure: 5xx or transport failures {failures}; unexpected "
                           f"answers {outcome.unexpected[:5]} ({len(outcome.unexpected)} in all)")
    created = {k: outcome.created[k] for k in ("application", "batch", "approval", "bare")}
    _check_rows(engine, ids, created, quota)
    rps, bare_rps = len(origination.latencies) / seconds, len(bare.latencies) / seconds
    return {
        "requests_per_second": round(rps, 1), "baseline_requests_per_second": round(bare_rps, 1),
        "ratio": round(bare_rps / rps, 2) if rps else None,
        "p50_ms": round(origination.percentile_ms(0.50), 1),
        "p99_ms": round(origination.percentile_ms(0.99), 1),
        "baseline_p50_ms": round(bare.percentile_ms(0.50), 1),
        "baseline_p99_ms": round(bare.percentile_ms(0.99), 1),
        "clients": clients, "seconds": seconds, "server_workers": workers,
        "requests_per_origination": 4, "created": created,
        "quota": "exhausted" if outcome.quota_refused else "ample",
        "quota_refused": outcome.quota_refused,
    }


def _check_rows(engine: Engine, ids: dict[str, int], created: dict[str, int],
                quota: Decimal) -> None:
    """Every 201 is a row (the bench's database holds no other origination),
    and the quota consumed is exactly what the approvals took."""
    with engine.connect() as conn:
        def count(table: Any, *where: Any) -> int:
            return conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where))

        stored = {"application": count(Application), "batch": count(Batch),
                  "approval": count(Decision, Decision.decision == DecisionKind.approved),
                  "bare": count(BARE)}
        consumed = conn.scalar(sa.select(Quota.consumed).where(
            Quota.university_id == ids["university"], Quota.academic_year == YEAR))
    if stored != created or consumed != created["approval"] * AMOUNT:
        raise RuntimeError(f"API figure: 201 answers {created} but rows {stored}; "
                           f"quota consumed {consumed} of {quota}")
