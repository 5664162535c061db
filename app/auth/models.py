"""Users (each of exactly one organisation, or none for admin) and their API keys."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import ID_TYPE, Base, CreatedAt, IdPk, UTCDateTime, enum_type


class Role(enum.StrEnum):
    university_officer = "university_officer"
    bank_operator = "bank_operator"
    center_staff = "center_staff"
    admin = "admin"


class OrgType(enum.StrEnum):
    center = "center"
    university = "university"
    bank = "bank"
    admin = "admin"  # no organisation


# The organisation a role belongs to.
ROLE_ORG: dict[Role, OrgType] = {
    Role.university_officer: OrgType.university,
    Role.bank_operator: OrgType.bank,
    Role.center_staff: OrgType.center,
    Role.admin: OrgType.admin,
}


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(
            "(role = 'university_officer' AND university_id IS NOT NULL"
            " AND center_id IS NULL AND bank_id IS NULL)"
            " OR (role = 'bank_operator' AND bank_id IS NOT NULL"
            " AND center_id IS NULL AND university_id IS NULL)"
            " OR (role = 'center_staff' AND center_id IS NOT NULL"
            " AND university_id IS NULL AND bank_id IS NULL)"
            " OR (role = 'admin' AND center_id IS NULL"
            " AND university_id IS NULL AND bank_id IS NULL)",
            name="one_organisation_per_role",
        ),
    )

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[Role] = mapped_column(enum_type(Role, "role"))
    center_id: Mapped[int | None] = mapped_column(
        ID_TYPE, sa.ForeignKey("centers.id"), index=True
    )
    university_id: Mapped[int | None] = mapped_column(
        ID_TYPE, sa.ForeignKey("universities.id"), index=True
    )
    bank_id: Mapped[int | None] = mapped_column(ID_TYPE, sa.ForeignKey("banks.id"), index=True)
    created_at: Mapped[CreatedAt]


class ApiKey(Base):
    """A bearer token ``<prefix>.<secret>``; only its SHA-256 is stored."""

    __tablename__ = "api_keys"

    id: Mapped[IdPk]
    user_id: Mapped[int] = mapped_column(ID_TYPE, sa.ForeignKey("users.id"), index=True)
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)
    token_sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[CreatedAt]
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
