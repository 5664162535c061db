"""Delinquency, default reports, the default and publication lists, snapshots.

Every figure is the engine's (``app.servicing.service.loan_state`` for one
loan; for many, ``figures``: read from the nightly job's cached figures where
they answer, else from the engine); this module decides who may see what.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import clock
from app.audit.service import record, snapshot
from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import get_visible, require_role, scope_rule, visible
from app.defaults.figures import (
    FACT_FIELDS,
    DefaultFacts,
    DefaultRow,
    Filters,
    default_rows,
    live_defaults,
    loans_query,
)
from app.defaults.models import DefaultReport, DefaultSnapshot, DefaultSnapshotRow
from app.errors import Conflict, InvalidInput
from app.servicing.models import EventKind, Loan, LoanEvent
from app.servicing.service import loan_state, record_event


@scope_rule(DefaultReport)
def _reports(principal: Principal) -> Any:
    """A bank its own reports, a center those on its universities' loans."""
    return DefaultReport.loan_id.in_(sa.select(Loan.id).where(visible(principal, Loan)))


def _not_future(day: dt.date, field: str) -> None:
    if day > clock.today():
        raise InvalidInput(f"{field} {day.isoformat()} is in the future", field=field,
                           code="future_date")


def delinquency(session: Session, principal: Principal, loan_id: int, as_of: dt.date
                ) -> dict[str, Any]:
    """One loan's delinquency on ``as_of`` (servicing-rules.md §8), from the engine."""
    loan = get_visible(session, principal, Loan, loan_id)
    state = loan_state(session, loan, as_of)
    o = state.overdue
    return {
        "loan_id": loan.id, "as_of": as_of, "status": state.status,
        "days_past_due": o.days_past_due, "bucket": state.delinquency_bucket,
        "arrears_run_start": state.arrears_run_start, "arrears_days": o.arrears_days,
        "overdue_principal": o.principal, "overdue_interest": o.interest,
        "penalty_accrued": o.penalty_accrued, "principal_outstanding":
        state.principal_outstanding, "default_reportable": state.default_reportable,
    }


# -- the bank's report to the center -----------------------------------------


def report_default(session: Session, principal: Principal, loan_id: int, *,
                   reported_on: dt.date) -> DefaultReport:
    """The bank reports a reportable defaulter to the center, with its facts."""
    loan = get_visible(session, principal, Loan, loan_id)
    require_role(principal, Role.bank_operator)
    _not_future(reported_on, "reported_on")
    state = loan_state(session, loan, reported_on)
    if not state.default_reportable:
        raise Conflict(f"loan {loan.id} is not a reportable default on {reported_on}",
                       code="not_reportable")
    taken = session.scalar(sa.select(DefaultReport.id).where(
        DefaultReport.loan_id == loan.id, DefaultReport.reported_on == reported_on))
    if taken is not None:
        raise Conflict(f"loan {loan.id} was already reported on {reported_on}",
                       code="duplicate")
    facts = DefaultFacts.of(state)
    report = DefaultReport(loan_id=loan.id, reported_on=reported_on,
                           reported_by=principal.user_name,
                           **{name: getattr(facts, name) for name in FACT_FIELDS})
    session.add(report)
    session.flush()
    record(session, principal, "default_report.create", report, before=None,
           after=snapshot(report))
    return report


def list_reports(session: Session, principal: Principal, *, limit: int, offset: int
                 ) -> list[DefaultReport]:
    """Reports are between banks and centers; a university does not see them."""
    require_role(principal, Role.bank_operator, Role.center_staff)
    query = sa.select(DefaultReport).where(visible(principal, DefaultReport))
    return list(session.scalars(
        query.order_by(DefaultReport.reported_on, DefaultReport.id).limit(limit).offset(offset)))


# -- the lists -------------------------------------------------------------------


def default_list(session: Session, principal: Principal, *, as_of: dt.date,
                 filters: Filters = Filters()) -> Iterator[DefaultRow]:
    """The caller's reportable defaults on ``as_of``, by loan id."""
    return default_rows(session, principal, as_of, filters)


def publication_list(session: Session, principal: Principal, *, as_of: dt.date
                     ) -> Iterator[tuple[DefaultRow, dt.date]]:
    """What the center publishes: defaults the bank reported by ``as_of`` and not
    cured on ``as_of`` (still reportable), with the latest report date."""
    require_role(principal, Role.center_staff)
    reported = dict(session.execute(
        sa.select(DefaultReport.loan_id, sa.func.max(DefaultReport.reported_on))
        .where(visible(principal, DefaultReport), DefaultReport.reported_on <= as_of)
        .group_by(DefaultReport.loan_id)
    ).all())
    if not reported:
        return
    for row in default_rows(session, principal, as_of):
        if row.loan_id in reported:
            yield row, reported[row.loan_id]


def take_default_snapshot(session: Session, *, business_date: dt.date) -> int:
    """Freeze the whole default list of ``business_date`` (the nightly job calls
    this after servicing the date); replaces an earlier snapshot of the date.
    Returns the number of defaults."""
    started = clock.now_utc()
    session.execute(sa.delete(DefaultSnapshotRow)
                    .where(DefaultSnapshotRow.business_date == business_date))
    session.execute(sa.delete(DefaultSnapshot)
                    .where(DefaultSnapshot.business_date == business_date))
    head = DefaultSnapshot(business_date=business_date, taken_at=started, loans=0)
    session.add(head)
    session.flush()
    query = loans_query(Principal.operator("default snapshot"), business_date, Filters())
    batch: list[dict[str, Any]] = []
    for row in live_defaults(session, query, business_date):
        batch.append({"business_date": business_date, "loan_id": row.loan_id,
                      **{name: getattr(row.facts, name) for name in FACT_FIELDS}})
        head.loans += 1
        if len(batch) >= 1000:
            session.execute(sa.insert(DefaultSnapshotRow), batch)
            batch = []
    if batch:
        session.execute(sa.insert(DefaultSnapshotRow), batch)
    session.flush()
    return head.loans


def forgive(session: Session, principal: Principal, loan_id: int, *, approved_on: dt.date,
            case_reference: str) -> LoanEvent:
    """代偿: the center approves a hardship-service case; the state pays the
    remaining principal and interest on ``approved_on`` from the forgiveness
    fund (the engine's payoff quote, booked by servicing) and the loan closes."""
    loan = get_visible(session, principal, Loan, loan_id)
    require_role(principal, Role.center_staff)
    _not_future(approved_on, "approved_on")
    state = loan_state(session, loan, approved_on)
    if state.status not in ("graduated", "repaying"):
        raise Conflict(f"loan {loan.id} is {state.status} on {approved_on}: only a "
                       "graduate's loan can be forgiven", code="not_forgivable")
    return record_event(session, principal, loan, kind=EventKind.forgiveness,
                        event_date=approved_on, data={"case_reference": case_reference})

