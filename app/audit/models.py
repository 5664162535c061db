"""The audit log table."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from app.db import ID_TYPE, Base, CreatedAt, IdPk

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class AuditRecord(Base):
    """One write.  ``user_id``/``user_name`` name the API key's owner (``user_id``
    is empty for the ``loans`` command run by an operator); the name is copied so
    the record stays readable whatever happens to the user later."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_entity", "entity_type", "entity_id"),)

    id: Mapped[IdPk]
    at: Mapped[CreatedAt]
    user_id: Mapped[int | None] = mapped_column(ID_TYPE, sa.ForeignKey("users.id"), index=True)
    user_name: Mapped[str] = mapped_column(sa.String(200))
    action: Mapped[str] = mapped_column(sa.String(50))
    entity_type: Mapped[str] = mapped_column(sa.String(50))
    entity_id: Mapped[str] = mapped_column(sa.String(50))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON_TYPE)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON_TYPE)
