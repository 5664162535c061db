"""Who am I; users and API keys (admins; anyone may revoke their own key)."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.auth import service
from app.auth.deps import CurrentPrincipal
from app.auth.models import ApiKey, User
from app.auth.principal import Principal
from app.auth.schemas import ApiKeyIssued, ApiKeyOut, PrincipalOut, UserCreate, UserOut
from app.auth.scope import get_visible, select_visible
from app.deps import DbSession

router = APIRouter(tags=["access"])


@router.get("/me", response_model=PrincipalOut)
def me(principal: CurrentPrincipal) -> Principal:
    return principal


@router.get("/users", response_model=list[UserOut])
def list_users(session: DbSession, principal: CurrentPrincipal) -> list[User]:
    return list(session.scalars(select_visible(principal, User).order_by(User.id)))


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(session: DbSession, principal: CurrentPrincipal, body: UserCreate) -> User:
    return service.create_user(session, principal, **body.model_dump())


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(session: DbSession, principal: CurrentPrincipal, user_id: int) -> User:
    return get_visible(session, principal, User, user_id)


@router.post(
    "/users/{user_id}/api-keys", response_model=ApiKeyIssued, status_code=status.HTTP_201_CREATED
)
def issue_key(session: DbSession, principal: CurrentPrincipal, user_id: int) -> ApiKeyIssued:
    user = get_visible(session, principal, User, user_id)
    key, token = service.issue_key(session, principal, user=user)
    return ApiKeyIssued(**ApiKeyOut.model_validate(key).model_dump(), token=token)


@router.post("/api-keys/{prefix}/revoke", response_model=ApiKeyOut)
def revoke_key(session: DbSession, principal: CurrentPrincipal, prefix: str) -> ApiKey:
    return service.revoke_key(session, principal, prefix=prefix)
