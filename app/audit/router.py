"""Reading the audit log: admins everything, others what their organisation did."""

from __future__ import annotations

from fastapi import APIRouter, Query

from app.audit.models import AuditRecord
from app.audit.schemas import AuditRecordOut
from app.auth.deps import CurrentPrincipal
from app.auth.scope import select_visible
from app.deps import DbSession

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=list[AuditRecordOut])
def list_audit(
    session: DbSession,
    principal: CurrentPrincipal,
    entity_type: str | None = None,
    entity_id: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    before_id: int | None = Query(None, description="page: records older than this id"),
) -> list[AuditRecord]:
    query = select_visible(principal, AuditRecord)
    if entity_type is not None:
        query = query.where(AuditRecord.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditRecord.entity_id == entity_id)
    if before_id is not None:
        query = query.where(AuditRecord.id < before_id)
    return list(session.scalars(query.order_by(AuditRecord.id.desc()).limit(limit)))
