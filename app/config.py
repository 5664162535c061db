"""Settings: the only reader of the environment (variables prefixed ``LOANS_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOANS_", extra="ignore")

    # Embedded SQLite under var/ of the repository by default;
    # ``postgresql+psycopg://user@host:5432/db`` switches to PostgreSQL.
    database_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'loans.db'}"
    # Set to run the test suite on PostgreSQL as well (``make test``).
    test_database_url: str | None = None
    # Log SQL statements.
    echo_sql: bool = False


@lru_cache
def get_settings() -> Settings:
    return Settings()
