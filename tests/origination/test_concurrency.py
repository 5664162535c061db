"""Real concurrency on PostgreSQL (committed transactions, one session per
thread): the quota is never exceeded, an idempotency key creates one record."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app import clock
from app.auth.principal import Principal
from app.db import make_session_factory, session_scope
from app.errors import Conflict
from app.main import create_app
from app.origination import service
from app.origination.models import Application, ApplicationStatus, DecisionKind, Quota
from app.origination.schemas import StudentIn
from tests.conftest import SETTINGS
from tests.origination.conftest import application_body, build_world, citizen_id

pytestmark = pytest.mark.pg_only

RACERS = 200
FITS = 100
# PostgreSQL's default max_connections is 100 and other sessions share the
# server: the 200 threads race through 40 real connections at a time.
CONNECTIONS = 40


@pytest.fixture
def day():
    clock.set_today(clock.today().replace(year=2025, month=9, day=15))
    yield
    clock.set_today(None)


def test_quota_never_exceeded_under_concurrency(committed_engine: Engine, day) -> None:
    operator = Principal.operator("concurrency test")
    sessions = make_session_factory(committed_engine)
    with session_scope(sessions) as session:
        world, _admin = build_world(session)
        quota = service.create_quota(
            session, operator, university_id=world.university.id, academic_year="2025-2026",
            actual=Decimal(6000 * FITS), reason="fits exactly one hundred students")
        ids = []
        for n in range(RACERS):
            body = application_body(student={"id_number": citizen_id(100_000 + n)})
            student = StudentIn(**body["student"]).model_dump()
            app = service.create_application(
                session, operator, university_id=world.university.id,
                academic_year="2025-2026", student=service.Student(**student),
                years=[("2025-2026", Decimal("6000.00"))], materials_complete=True)
            service.vet_application(session, operator, application_id=app.id)
            ids.append(app.id)
        service.submit_batch(session, operator, application_ids=ids,
                             submitted_on=clock.today())

    racing = sa.create_engine(committed_engine.url, pool_size=CONNECTIONS, max_overflow=0,
                              pool_timeout=120)
    race_sessions = make_session_factory(racing)
    start = threading.Barrier(RACERS)

    def approve(application_id: int) -> str:
        start.wait()
        try:
            with session_scope(race_sessions) as session:
                service.decide(session, operator, application_id=application_id,
                               decision=DecisionKind.approved, reason="",
                               decided_on=clock.today())
            return "approved"
        except Conflict as exc:
            return exc.code

    try:
        with ThreadPoolExecutor(max_workers=RACERS) as pool:
            outcomes = list(pool.map(approve, ids))
    finally:
        racing.dispose()

    assert outcomes.count("approved") == FITS
    assert outcomes.count("quota_exceeded") == RACERS - FITS
    with committed_engine.connect() as conn:
        consumed, actual = conn.execute(
            sa.select(Quota.consumed, Quota.actual).where(Quota.id == quota.id)).one()
        approved = conn.scalar(sa.select(sa.func.count()).select_from(Application).where(
            Application.status == ApplicationStatus.approved))
    assert consumed == actual == Decimal(6000 * FITS)
    assert approved == FITS


def test_same_idempotency_key_sent_concurrently_creates_one_record(
    committed_engine: Engine, day
) -> None:
    sessions = make_session_factory(committed_engine)
    with session_scope(sessions) as session:
        world, _admin = build_world(session)
    client = TestClient(create_app(SETTINGS, session_factory=sessions))
    body = application_body()
    senders = 12
    start = threading.Barrier(senders)

    def send(_n: int):
        start.wait()
        return client.post("/v1/applications", json=body,
                           headers=world.uni | {"Idempotency-Key": "same-key"})

    with ThreadPoolExecutor(max_workers=senders) as pool:
        responses = list(pool.map(send, range(senders)))

    assert [r.status_code for r in responses] == [201] * senders, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == senders - 1
    with committed_engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Application)) == 1
