"""The ``loans`` command: migrate, seed-demo (once), create-key, revoke-key."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app import cli
from app.config import Settings
from app.main import create_app

runner = CliRunner()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    result = runner.invoke(cli.app, ["migrate"])
    assert result.exit_code == 0, result.output
    return settings


def test_seed_demo_once_and_its_keys_work(settings: Settings) -> None:
    first = runner.invoke(cli.app, ["seed-demo"])
    assert first.exit_code == 0, first.output
    tokens = {
        line.split()[0]: line.split()[1] for line in first.output.splitlines()[1:] if line.strip()
    }
    assert set(tokens) == {"admin", "center_staff", "bank_operator", "university_officer"}
    again = runner.invoke(cli.app, ["seed-demo"])
    assert again.exit_code == 0 and "already" in again.output
    with TestClient(create_app(settings)) as client:
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        centers = client.get("/v1/centers", headers=admin).json()
        assert sorted(c["level"] for c in centers) == ["national", "provincial"]
        universities = client.get("/v1/universities", headers=admin).json()
        assert len(universities) >= 3
        assert {u["center_id"] for u in universities} == {c["id"] for c in centers}
        assert len(client.get("/v1/banks", headers=admin).json()) == 2
        officer = {"Authorization": f"Bearer {tokens['university_officer']}"}
        assert len(client.get("/v1/universities", headers=officer).json()) == 1
        mine = client.get("/v1/universities", headers=officer).json()[0]
        enrolment = client.get(f"/v1/universities/{mine['id']}/enrolment", headers=officer)
        assert enrolment.status_code == 200 and enrolment.json()


def test_create_and_revoke_key(settings: Settings) -> None:
    runner.invoke(cli.app, ["seed-demo"])
    created = runner.invoke(
        cli.app,
        ["admin", "create-key", "--org-type", "bank", "--org-id", "1", "--role", "bank_operator",
         "--name", "Zhang Wei"],
    )
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings)) as client:
        me = client.get("/v1/me", headers=headers).json()
        assert (me["user_name"], me["bank_id"]) == ("Zhang Wei", 1)
        revoked = runner.invoke(cli.app, ["admin", "revoke-key", token.split(".")[0]])
        assert revoked.exit_code == 0, revoked.output
        assert client.get("/v1/me", headers=headers).status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org-type", "bank", "--org-id", "1", "--role", "admin"], "belongs to org type"),
        (["--org-type", "bank", "--org-id", "999", "--role", "bank_operator"], "not found"),
        (["--org-type", "center", "--role", "center_staff"], "needs a center id"),
    ],
)
def test_create_key_refuses_a_wrong_organisation(
    settings: Settings, args: list[str], message: str
) -> None:
    result = runner.invoke(cli.app, ["admin", "create-key", "--name", "x", *args])
    assert result.exit_code == 2
    assert message in result.output
