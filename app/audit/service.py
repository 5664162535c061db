"""``record``: the one way every write is logged."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.audit.models import AuditRecord
from app.auth.principal import Principal
from app.db import Base
from app.privacy.types import protected_value


def _json_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):  # datetimes included
        return value.isoformat()
    return value


def snapshot(entity: Base, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The entity's column values as JSON-safe data (Decimal and dates as strings);
    encrypted personal data masked (the audit log is not encrypted)."""
    return {
        column.key: _json_value(protected_value(column.columns[0], getattr(entity, column.key)))
        for column in sa.inspect(type(entity)).column_attrs
        if column.key not in exclude
    }


def record(
    session: Session,
    principal: Principal,
    action: str,
    entity: Base,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditRecord:
    """Log one write by ``principal`` on ``entity``.

    ``before``/``after`` are ``snapshot``s taken around the change (flush a new
    entity before taking its ``after``, so it has its id): ``before`` is None
    for a creation, ``after`` None for a deletion.
    """
    entry = AuditRecord(
        user_id=principal.user_id,
        user_name=principal.user_name,
        action=action,
        entity_type=entity.__tablename__,
        entity_id=str(sa.inspect(entity).identity[0]),
        before=before,
        after=after,
    )
    session.add(entry)
    session.flush()
    return entry
