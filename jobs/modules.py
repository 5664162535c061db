"""The other modules' jobs, each taking its business date (bank files: jobs.bankfiles).

Order on a date: bank files first (payments recorded, loans dirty), then
daily servicing, then what reads its result: the default list snapshot, the
settlement-day subsidy statements and, on January 1, the risk-compensation
fund of the year before.  Each entry point is keyed by its date in its own
module, so running a date again changes nothing.  Housekeeping: stored
Idempotency-Key responses older than ``idempotency_key_days``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from app.policy import policies
from jobs.daily import NAME as DAILY
from jobs.registry import ChunkResult, Job, register, single


def _default_list(session: Session, day: dt.date, _lo: int, _hi: int) -> ChunkResult:
    from app.defaults.service import take_default_snapshot

    return ChunkResult(items=take_default_snapshot(session, business_date=day))


def _subsidy(session: Session, day: dt.date, _lo: int, _hi: int) -> ChunkResult:
    from app.subsidy.settlement import settle

    summary = settle(session, day)
    return ChunkResult(items=summary.lines)


def _risk_fund(session: Session, day: dt.date, _lo: int, _hi: int) -> ChunkResult:
    from app.riskfund.service import run_year

    return ChunkResult(items=run_year(session, day).funds_created)


def _idempotency_keys(session: Session, day: dt.date, _lo: int, _hi: int) -> ChunkResult:
    from app.clock import start_of
    from app.config import get_settings
    from app.idempotency.service import purge_before

    days = get_settings().idempotency_key_days
    return ChunkResult(items=purge_before(session, start_of(day - dt.timedelta(days=days))))


def settlement_day(day: dt.date) -> bool:
    """A date that is a settlement date of some frequency (the due day of a policy)."""
    return day.day in {p.calendar.due_day for p in policies().values()}


register(Job("default_lists", "snapshot of the default list as of the date",
             single, _default_list, after=(DAILY,)))
register(Job("subsidy_statements", "settlement-day subsidy claim statements",
             single, _subsidy, after=(DAILY,), applies=settlement_day))
register(Job("risk_fund", "the risk-compensation fund of the year before",
             single, _risk_fund, after=(DAILY,),
             applies=lambda day: (day.month, day.day) == (1, 1)))
register(Job("idempotency_keys", "delete stored Idempotency-Key responses past their days",
             single, _idempotency_keys))
