from __future__ import annotations

import datetime as dt

from pydantic import Field

from app.auth.models import OrgType, Role
from app.schemas_common import RequestModel, ResponseModel


class UserCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role
    org_id: int | None = Field(None, description="center, university or bank id; none for admin")


class UserOut(ResponseModel):
    id: int
    name: str
    role: Role
    center_id: int | None
    university_id: int | None
    bank_id: int | None
    created_at: dt.datetime


class ApiKeyOut(ResponseModel):
    prefix: str
    user_id: int
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class ApiKeyIssued(ApiKeyOut):
    token: str = Field(description="the bearer token; shown once, store it now")


class PrincipalOut(ResponseModel):
    user_id: int | None
    user_name: str
    role: Role
    org_type: OrgType
    center_id: int | None
    university_id: int | None
    bank_id: int | None
