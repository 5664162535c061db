"""Every module's models, imported so that ``Base.metadata`` is complete (Alembic)."""

from app.audit.models import AuditRecord
from app.auth.models import ApiKey, User
from app.db import Base
from app.reference.models import Agreement, Bank, Center, Enrolment, University

__all__ = [
    "Agreement",
    "ApiKey",
    "AuditRecord",
    "Bank",
    "Base",
    "Center",
    "Enrolment",
    "University",
    "User",
]
