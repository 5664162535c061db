"""Quotas (借款总额包干): the base from enrolment, the center's actual figure,
and consumption that the database keeps within it whatever the concurrency.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import audit, clock
from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import get_visible, get_writable, require_role
from app.config import get_settings
from app.errors import Conflict, InvalidInput
from app.money import round_fen
from app.origination.models import Quota
from app.policy import PolicyVersion, version_in_force
from app.reference.models import University
from app.reference.service import eligible_full_time_enrolment


def policy_on(day: dt.date, field: str = "date") -> PolicyVersion:
    """The policy version in force on ``day`` by the configured schedule."""
    try:
        return version_in_force(day, get_settings().policy_schedule)
    except LookupError as exc:
        raise InvalidInput(str(exc), field, code="no_policy_version") from None


def year_start(academic_year: str) -> dt.date:
    """An academic year "2025-2026" runs from 1 September 2025 to 31 August 2026."""
    return dt.date(int(academic_year[:4]), 9, 1)


def _base(session: Session, university_id: int, academic_year: str) -> tuple[int, Decimal, str]:
    """(eligible full-time enrolment, base quota, policy code) of the year."""
    policy = policy_on(year_start(academic_year), "academic_year")
    head_count = eligible_full_time_enrolment(
        session, university_id=university_id, academic_year=academic_year
    )
    base = round_fen(head_count * policy.quota.ratio * policy.quota.amount_per_student)
    return head_count, base, policy.code


def _set_adjustment(quota: Quota, principal: Principal, reason: str | None) -> None:
    quota.adjustment_reason = reason
    quota.adjusted_by = principal.user_name
    quota.adjusted_at = clock.now_utc()


def create_quota(
    session: Session,
    principal: Principal,
    *,
    university_id: int,
    academic_year: str,
    actual: Decimal | None = None,
    reason: str | None = None,
) -> Quota:
    """The center sets a university's quota for a year: the base from enrolment,
    the actual quota the base unless the center adjusts it (with a reason)."""
    require_role(principal, Role.center_staff)
    get_visible(session, principal, University, university_id, field="university_id")
    existing = session.scalar(sa.select(Quota.id).where(
        Quota.university_id == university_id, Quota.academic_year == academic_year))
    if existing is not None:
        raise Conflict(f"quota {existing} already set for {academic_year}; adjust it",
                       code="duplicate", details={"quota_id": existing})
    head_count, base, policy_code = _base(session, university_id, academic_year)
    quota = Quota(university_id=university_id, academic_year=academic_year,
                  policy_code=policy_code, enrolment=head_count, base=base,
                  actual=base if actual is None else actual, consumed=Decimal("0"))
    if quota.actual != base:
        if not reason:
            raise InvalidInput("an actual quota other than the base needs a reason", "reason")
        _set_adjustment(quota, principal, reason)
    session.add(quota)
    session.flush()
    audit.record(session, principal, "quota.create", quota, None, audit.snapshot(quota))
    return quota


def adjust_quota(
    session: Session, principal: Principal, *, quota_id: int, actual: Decimal, reason: str
) -> Quota:
    """The center changes the actual quota (base recomputed from current enrolment).

    Never below what approvals already consumed: a guarded UPDATE, so a
    concurrent approval cannot slip in between.
    """
    quota = get_writable(session, principal, Quota, quota_id, Role.center_staff)
    before = audit.snapshot(quota)
    head_count, base, _code = _base(session, quota.university_id, quota.academic_year)
    result = session.execute(
        sa.update(Quota)
        .where(Quota.id == quota_id, Quota.consumed <= actual)
        .values(actual=actual, base=base, enrolment=head_count, adjustment_reason=reason,
                adjusted_by=principal.user_name, adjusted_at=clock.now_utc())
        .execution_options(synchronize_session=False)
    )
    session.refresh(quota)
    if result.rowcount != 1:
        raise Conflict(
            f"approvals already consumed {quota.consumed} of this quota; "
            f"the actual quota cannot be set to {actual}",
            field="actual", code="below_consumed", details={"consumed": quota.consumed},
        )
    audit.record(session, principal, "quota.adjust", quota, before, audit.snapshot(quota))
    return quota


def consume_quota(
    session: Session, *, university_id: int, academic_year: str, amount: Decimal
) -> None:
    """Take ``amount`` from the university's quota of the year, or refuse (409).

    The check and the write are one conditional UPDATE: on PostgreSQL the row
    lock makes a concurrent UPDATE re-evaluate the condition on the committed
    row; on SQLite every transaction is an immediate write transaction.
    Callers consuming several years take them in year order (no deadlocks).
    (``round`` adds two fen amounts exactly; it only matters on SQLite, whose
    REAL storage could leave a float residue in the sum.)
    """
    quota_id = session.scalar(sa.select(Quota.id).where(
        Quota.university_id == university_id, Quota.academic_year == academic_year))
    if quota_id is None:
        raise Conflict(f"the center has not set the university's quota for {academic_year}",
                       code="quota_not_set", details={"academic_year": academic_year})
    new_consumed = sa.func.round(Quota.consumed + amount, 2)
    result = session.execute(
        sa.update(Quota)
        .where(Quota.id == quota_id, new_consumed <= Quota.actual)
        .values(consumed=new_consumed)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        actual, consumed = session.execute(
            sa.select(Quota.actual, Quota.consumed).where(Quota.id == quota_id)).one()
        raise Conflict(
            f"quota for {academic_year} exceeded: {amount} asked, "
            f"{actual - consumed} left of {actual}",
            code="quota_exceeded",
            details={"quota_id": quota_id, "academic_year": academic_year,
                     "actual": actual, "consumed": consumed, "asked": amount},
        )
