"""Stored responses of POSTs sent with an ``Idempotency-Key``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, CreatedAt, IdPk


class IdempotencyKey(Base):
    """One key of one caller: the request it was first used with and the
    response that request got (written in the same transaction)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("caller", "key"),
                      sa.Index("ix_idempotency_keys_created_at", "created_at"))

    id: Mapped[IdPk]
    caller: Mapped[str] = mapped_column(sa.String(64))
    key: Mapped[str] = mapped_column(sa.String(200))
    method: Mapped[str] = mapped_column(sa.String(10))
    path: Mapped[str] = mapped_column(sa.String(300))
    body_sha256: Mapped[str] = mapped_column(sa.String(64))
    # NULL only inside the transaction that claimed the key.
    status_code: Mapped[int | None] = mapped_column(sa.Integer)
    response_body: Mapped[Any] = mapped_column(sa.JSON, nullable=True)
    created_at: Mapped[CreatedAt]
