"""Load test (not a unit test): concurrent clients against a real uvicorn server
on PostgreSQL, reads and writes mixed, then the rows are counted.

    .venv/bin/python scripts/load.py --clients 200 --seconds 60 \
        --database postgresql+psycopg://postgres@127.0.0.1:5432/loans_load

The database's ``public`` schema is dropped and rebuilt.  Each client has its
own bank operator key and loops: 60% reads (a loan's figures, its events, a
page of loans), 30% contacts, 10% payments (each with a unique bank_txn_id).
Afterwards every write answered 201 must be a row in ``loan_events`` (no lost
write) and no answer may be a 5xx.  Prints requests/s and latency percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.db import make_engine, make_session_factory, run_migrations, session_scope  # noqa: E402
from app.servicing.models import EventKind, LoanEvent  # noqa: E402
from app.servicing.service import record_event  # noqa: E402
from jobs.http_load import Tally, api_server  # noqa: E402
from tests import factories  # noqa: E402


def seed(url: str, *, loans: int, clients: int) -> tuple[list[int], list[str]]:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    run_migrations(engine)
    with session_scope(make_session_factory(engine)) as session:
        agreement = factories.make_agreement(session)
        bank = agreement.bank_id
        loan_ids = []
        for _ in range(loans):
            loan = factories.make_loan(session, agreement)
            record_event(session, factories.OPERATOR, loan, kind=EventKind.disbursement,
                         event_date=dt.date(2025, 9, 10), amount=Decimal("6000"))
            loan_ids.append(loan.id)
        from app.reference.models import Bank

        tokens = [factories.make_key(session, "bank_operator", session.get(Bank, bank))[0]
                  for _ in range(clients)]
    engine.dispose()
    return loan_ids, tokens


async def client_loop(n: int, base: str, token: str, loan_ids: list[int], until: float,
                      tally: Tally, writes: Counter) -> None:
    rng = random.Random(n)
    headers = {"Authorization": f"Bearer {token}"}
    seq = 0
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        while time.monotonic() < until:
            loan = rng.choice(loan_ids)
            roll = rng.random()
            if roll < 0.2:
                request = http.get(f"/v1/loans/{loan}")
            elif roll < 0.4:
                request = http.get(f"/v1/loans/{loan}/events")
            elif roll < 0.6:
                request = http.get("/v1/loans", params={"limit": 20,
                                                        "offset": rng.randrange(len(loan_ids))})
            elif roll < 0.9:
                kind = "contact"
                request = http.post(f"/v1/loans/{loan}/contacts", json={
                    "date": "2026-01-05", "channel": "phone", "initiated_by": "borrower",
                    "note": f"load {n}-{seq}"})
            else:
                kind = "payment"
                seq += 1
                request = http.post(f"/v1/loans/{loan}/payments", json={
                    "value_date": "2026-01-10", "amount": "1.00",
                    "bank_txn_id": f"LOAD-{n}-{seq}"})
            response = await tally.send(request)
            if roll >= 0.6 and response is not None and response.status_code == 201:
                writes[kind] += 1


async def drive(base: str, tokens: list[str], loan_ids: list[int], seconds: float):
    tally = Tally()
    writes: Counter = Counter()
    until = time.monotonic() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(client_loop(i, base, token, loan_ids, until, tally, writes)
                           for i, token in enumerate(tokens)))
    return tally, writes, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=os.environ.get(
        "LOANS_LOAD_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/loans_load"))
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--loans", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    loan_ids, tokens = seed(args.database, loans=args.loans, clients=args.clients)
    with api_server(args.database, workers=args.workers, port=args.port) as base:
        tally, writes, elapsed = asyncio.run(drive(base, tokens, loan_ids, args.seconds))

    engine = make_engine(args.database)
    with engine.connect() as conn:
        stored = dict(conn.execute(
            sa.select(LoanEvent.kind, sa.func.count()).where(LoanEvent.kind.in_(
                [EventKind.contact, EventKind.payment])).group_by(LoanEvent.kind)).all())
    engine.dispose()
    stored = {getattr(k, "value", k): v for k, v in stored.items()}

    latencies = sorted(tally.latencies)
    total = len(latencies)
    print(f"clients {args.clients}, {elapsed:.1f} s, {total} requests, "
          f"{total / elapsed:.1f} requests/s")
    print(f"latency ms: p50 {tally.percentile_ms(0.50):.0f}, "
          f"p90 {tally.percentile_ms(0.90):.0f}, p99 {tally.percentile_ms(0.99):.0f}, "
          f"max {latencies[-1] * 1000:.0f}, mean {statistics.fmean(latencies) * 1000:.0f}")
    print(f"statuses: {dict(sorted(tally.statuses.items(), key=str))}")
    print(f"writes answered 201: {dict(writes)}; rows stored: {stored}")
    lost = {k: writes[k] - stored.get(k, 0) for k in ("contact", "payment")}
    failures = tally.failures()
    print(f"lost writes: {lost}; 5xx and transport errors: {failures}")
    if failures or any(lost.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
