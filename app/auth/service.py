"""Users and API keys.  Keyword-only, take a ``Session``, never commit."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import audit
from app.auth.models import ROLE_ORG, ApiKey, OrgType, Role, User
from app.auth.principal import Principal
from app.auth.scope import get_visible, require_role
from app.clock import now_utc
from app.errors import Conflict, InvalidInput, NotFound, Unauthorized
from app.reference.models import Bank, Center, University

_ORG_MODEL: dict[OrgType, type[Center | University | Bank]] = {
    OrgType.center: Center,
    OrgType.university: University,
    OrgType.bank: Bank,
}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    session: Session, principal: Principal, *, name: str, role: Role, org_id: int | None
) -> User:
    """A user of the organisation ``org_id`` of the kind ``role`` belongs to
    (none for admin)."""
    require_role(principal)
    org_type = ROLE_ORG[role]
    user = User(name=name, role=role)
    if org_type == OrgType.admin:
        if org_id is not None:
            raise InvalidInput("an admin belongs to no organisation", "org_id")
    else:
        if org_id is None:
            raise InvalidInput(f"role {role.value} needs a {org_type.value} id", "org_id")
        get_visible(session, principal, _ORG_MODEL[org_type], org_id, field="org_id")
        setattr(user, f"{org_type.value}_id", org_id)
    session.add(user)
    session.flush()
    audit.record(session, principal, "create", user, None, audit.snapshot(user))
    return user


def find_or_create_user(
    session: Session, principal: Principal, *, name: str, role: Role, org_id: int | None
) -> User:
    """The user called ``name`` with this role and organisation, created if missing."""
    org_type = ROLE_ORG[role]
    query = sa.select(User).where(User.name == name, User.role == role)
    if org_type != OrgType.admin:
        query = query.where(getattr(User, f"{org_type.value}_id") == org_id)
    user = session.scalars(query.limit(1)).first()
    if user is not None:
        return user
    return create_user(session, principal, name=name, role=role, org_id=org_id)


def issue_key(session: Session, principal: Principal, *, user: User) -> tuple[ApiKey, str]:
    """A new key for ``user``; the token is returned here and never again."""
    require_role(principal)
    prefix = secrets.token_hex(4)
    token = f"{prefix}.{secrets.token_urlsafe(32)}"
    key = ApiKey(user_id=user.id, prefix=prefix, token_sha256=hash_token(token))
    session.add(key)
    session.flush()
    audit.record(session, principal, "create", key, None, audit.snapshot(key))
    return key, token


def revoke_key(session: Session, principal: Principal, *, prefix: str) -> ApiKey:
    """Revoke the key ``prefix``: admins any key, others only their own."""
    key = session.scalars(sa.select(ApiKey).where(ApiKey.prefix == prefix)).one_or_none()
    if key is None or (principal.role != Role.admin and key.user_id != principal.user_id):
        raise NotFound(f"API key {prefix} not found")
    if key.revoked_at is not None:
        raise Conflict(f"API key {prefix} is already revoked")
    before = audit.snapshot(key)
    key.revoked_at = now_utc()
    audit.record(session, principal, "revoke", key, before, audit.snapshot(key))
    return key


def rotate_key(session: Session, principal: Principal, *, prefix: str) -> tuple[ApiKey, str]:
    """Revoke the key ``prefix`` and issue a new one to the same user."""
    old = revoke_key(session, principal, prefix=prefix)
    user = session.get(User, old.user_id)
    assert user is not None
    return issue_key(session, principal, user=user)


def authenticate(session: Session, token: str) -> Principal:
    """The principal of a bearer token; 401 for unknown or revoked keys."""
    prefix, _, _ = token.partition(".")
    row = session.execute(
        sa.select(ApiKey, User)
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.prefix == prefix)
    ).one_or_none()
    if row is None or not hmac.compare_digest(row.ApiKey.token_sha256, hash_token(token)):
        raise Unauthorized("unknown API key")
    if row.ApiKey.revoked_at is not None:
        raise Unauthorized("API key revoked")
    return Principal.of(row.User)
