"""The audit log: who changed what, when, before and after.

Services call ``audit.record(session, principal, action, entity, before, after)``
with ``audit.snapshot(entity)`` values for every write.
"""

from app.audit.service import record, snapshot

__all__ = ["record", "snapshot"]
