"""The caller of a request (or of the ``loans`` command)."""

from __future__ import annotations

from dataclasses import dataclass

from app.auth.models import ROLE_ORG, OrgType, Role, User


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int | None
    user_name: str
    role: Role
    center_id: int | None = None
    university_id: int | None = None
    bank_id: int | None = None

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(
            user_id=user.id,
            user_name=user.name,
            role=user.role,
            center_id=user.center_id,
            university_id=user.university_id,
            bank_id=user.bank_id,
        )

    @classmethod
    def operator(cls, name: str = "loans command") -> Principal:
        """An operator at the machine (``loans`` command): admin rights, no user row."""
        return cls(user_id=None, user_name=name, role=Role.admin)

    @property
    def org_type(self) -> OrgType:
        return ROLE_ORG[self.role]

    @property
    def org_id(self) -> int | None:
        return {
            OrgType.center: self.center_id,
            OrgType.university: self.university_id,
            OrgType.bank: self.bank_id,
            OrgType.admin: None,
        }[self.org_type]
