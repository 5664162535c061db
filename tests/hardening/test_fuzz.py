"""Schemathesis against the app's own OpenAPI schema, in-process, with a real
key of every role: no 5xx, responses conform to the schema, and every error
has the one JSON error shape.  Bounded (``FUZZ_EXAMPLES`` per operation) so
``make test`` stays within CI time on both databases."""

from __future__ import annotations

import os

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.db import make_engine, make_session_factory
from app.main import create_app
from tests.conftest import SETTINGS
from tests.world import World, build_world

FUZZ_EXAMPLES = int(os.environ.get("LOANS_FUZZ_EXAMPLES", "5"))
ROLES = ["admin", "center_staff", "bank_operator", "university_officer"]


# The app is built once; ``world`` points it at each test's connection.
APP = create_app(SETTINGS, session_factory=make_session_factory(make_engine("sqlite://")))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
# Schema examples and random generation; the coverage phase (every method on
# every path, boundary values) is left out to stay within CI time.
schema.config.phases.update(phases=["examples", "fuzzing"])


@pytest.fixture
def world(db: Session, connection: Connection) -> World:
    APP.state.session_factory = make_session_factory(
        connection, join_transaction_mode="create_savepoint")
    return build_world(db)


def _error_shaped(response: schemathesis.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    return (set(body) == {"error"} and isinstance(error, dict)
            and isinstance(error.get("code"), str) and isinstance(error.get("message"), str))


@schema.parametrize()
@hypothesis.settings(
    max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_withstands_generated_requests(case: schemathesis.Case, world: World) -> None:
    # Schema-valid requests the rules refuse (422 invalid_input, 409) are by
    # design: the schema cannot say "positive" or "after the signing date".
    excluded = [positive_data_acceptance]
    if "Authorization" not in (case.headers or {}):
        # A negative case may consist in leaving the key out; ours is added below.
        excluded.append(negative_data_rejection)
    for role in ROLES:
        response = case.call(headers=world.keys[role])
        assert response.status_code < 500, (role, response.status_code, response.text[:500])
        if response.status_code >= 400:
            assert _error_shaped(response), (role, response.status_code, response.text[:500])
        case.validate_response(response, excluded_checks=excluded)
