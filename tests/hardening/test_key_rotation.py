"""``loans admin rotate-key``: a new key for the same user, the old one revoked."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app import cli
from app.config import Settings
from app.main import create_app

runner = CliRunner()


def test_rotate_key(tmp_path: Path, monkeypatch) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    created = runner.invoke(
        cli.app, ["admin", "create-key", "--org-type", "admin", "--role", "admin", "--name", "ops"]
    )
    old_token = created.output.strip().splitlines()[-1]
    old_prefix = old_token.split(".")[0]

    rotated = runner.invoke(cli.app, ["admin", "rotate-key", old_prefix])
    assert rotated.exit_code == 0, rotated.output
    new_token = rotated.output.strip().splitlines()[-1]
    assert new_token.split(".")[0] != old_prefix

    with TestClient(create_app(settings)) as client:
        old = client.get("/v1/me", headers={"Authorization": f"Bearer {old_token}"})
        assert old.status_code == 401 and old.json()["error"]["message"] == "API key revoked"
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {new_token}"})
        assert me.status_code == 200 and me.json()["user_name"] == "ops"

    again = runner.invoke(cli.app, ["admin", "rotate-key", old_prefix])
    assert again.exit_code == 2 and "already revoked" in again.output
    unknown = runner.invoke(cli.app, ["admin", "rotate-key", "nosuchkey"])
    assert unknown.exit_code == 2 and "not found" in unknown.output
