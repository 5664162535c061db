from __future__ import annotations

import datetime as dt
from typing import Any

from app.schemas_common import ResponseModel


class AuditRecordOut(ResponseModel):
    id: int
    at: dt.datetime
    user_id: int | None
    user_name: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
