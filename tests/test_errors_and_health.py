"""One error shape for everything; /health, /docs, OpenAPI."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from app.config import Settings
from app.main import create_app


def test_unknown_route_is_404_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/v1/nowhere")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not Found"}}


def test_wrong_method_is_405_in_the_error_shape(client: TestClient) -> None:
    response = client.put("/health")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_unexpected_error_is_500_without_a_stack(connection) -> None:
    app = create_app(Settings(), session_factory=sessionmaker(bind=connection))
    boom = APIRouter()

    @boom.get("/boom")
    def explode() -> None:
        raise RuntimeError("secret internals")

    app.include_router(boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("internal_error", "internal error")
    assert "secret" not in response.text


def test_health_checks_the_database(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_health_reports_an_unreachable_database() -> None:
    settings = Settings(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"


def test_docs_and_openapi(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "/v1/universities/{university_id}" in schema["paths"]
    assert "ErrorBody" in schema["components"]["schemas"]
    agreement = schema["components"]["schemas"]["AgreementOut"]["properties"]
    assert agreement["risk_compensation_rate"]["type"] == "string"
