"""The center's reports: portfolio aging, university repayment performance,
forgiven amounts, staff ratio, and the monthly credit-reporting (征信) file.

Figures come from the engine (``figures.all_states``) or, for forgiven
amounts, from the ledger.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import require_role, visible
from app.db import money_total
from app.defaults.figures import Filters, all_states, default_rows, keyset, loans_query
from app.engine.machine import LoanMachine
from app.engine.state import read_state
from app.ledger.models import Account, JournalEntry, JournalLeg
from app.money import ZERO
from app.reference.models import Bank, Enrolment, University
from app.servicing.models import EventKind, Loan, LoanEvent
from app.servicing.service import engine_events, terms_of

BUCKETS = ["1-30", "31-90", "91-180", "181-365", ">365"]
Dimension = Literal["bank", "university", "center"]
RATIO = Decimal("0.000001")


def _ratio(part: Decimal | int, whole: Decimal | int) -> Decimal:
    return (Decimal(part) / Decimal(whole)).quantize(RATIO, ROUND_HALF_UP) if whole else ZERO


def _disbursed_by(as_of: dt.date) -> Any:
    return sa.exists().where(LoanEvent.loan_id == Loan.id,
                             LoanEvent.kind == EventKind.disbursement,
                             LoanEvent.event_date <= as_of)


def aging(session: Session, principal: Principal, *, as_of: dt.date, by: Dimension
          ) -> list[dict[str, Any]]:
    """Delinquent loans per bank, university or center and bucket on ``as_of``:
    count, principal outstanding and overdue amount (an engine scan)."""
    key = {"bank": "bank_id", "university": "university_id", "center": "center_id"}[by]
    out: dict[tuple[int, str], dict[str, Any]] = {}
    query = loans_query(principal, as_of, Filters()).where(_disbursed_by(as_of))
    for row, state in all_states(session, query, as_of):
        bucket = state.delinquency_bucket
        if bucket is None:
            continue
        o = state.overdue
        line = out.setdefault((getattr(row, key), bucket), {
            f"{by}_id": getattr(row, key), "bucket": bucket, "loans": 0,
            "principal_outstanding": ZERO, "overdue_amount": ZERO})
        line["loans"] += 1
        line["principal_outstanding"] += state.principal_outstanding
        line["overdue_amount"] += o.principal + o.interest + o.penalty_accrued
    return [out[k] for k in sorted(out, key=lambda k: (k[0], BUCKETS.index(k[1])))]


@dataclass(frozen=True)
class Performance:
    """Repayment record of one university's graduation cohort on a date."""

    university_id: int
    graduation_year: int
    borrowers: int
    defaulted: int
    disbursed: Decimal
    defaulted_outstanding: Decimal

    @property
    def default_rate_by_count(self) -> Decimal:
        return _ratio(self.defaulted, self.borrowers)

    @property
    def default_rate_by_amount(self) -> Decimal:
        """Principal outstanding of defaulted loans over principal disbursed."""
        return _ratio(self.defaulted_outstanding, self.disbursed)


def university_performance(
    session: Session, *, as_of: dt.date, principal: Principal | None = None,
    university_id: int | None = None,
) -> list[Performance]:
    """Default rates per university and graduation cohort on ``as_of`` (loans
    whose borrower graduated by then); other modules call it without a
    principal (the whole country), e.g. the risk-compensation weighting."""
    principal = principal or Principal.operator("university performance")
    filters = Filters(university_id=university_id)
    base = loans_query(principal, as_of, filters).subquery()
    disbursed = (
        sa.select(LoanEvent.loan_id, money_total(LoanEvent.amount).label("amount"))
        .where(LoanEvent.kind == EventKind.disbursement, LoanEvent.event_date <= as_of)
        .group_by(LoanEvent.loan_id).subquery()
    )
    cohorts: dict[tuple[int, int], list[Any]] = {}
    rows = session.execute(
        sa.select(base.c.university_id, base.c.graduated_on, disbursed.c.amount)
        .join(disbursed, disbursed.c.loan_id == base.c.loan_id)
        .where(base.c.graduated_on.is_not(None))
    ).all()
    for uni, graduated, amount in rows:
        line = cohorts.setdefault((uni, graduated.year), [0, 0, ZERO, ZERO])
        line[0] += 1
        line[2] += amount
    for row in default_rows(session, principal, as_of, filters):
        if row.graduated_on is None:
            continue
        line = cohorts[(row.university_id, row.graduated_on.year)]
        line[1] += 1
        line[3] += row.facts.principal_outstanding
    return [Performance(uni, year, *cohorts[(uni, year)]) for uni, year in sorted(cohorts)]


def forgiven(session: Session, principal: Principal, *, through: dt.date
             ) -> list[dict[str, Any]]:
    """Amounts the state paid off (代偿) per university through a date, from the
    ledger's forgiveness fund (reversals net out)."""
    require_role(principal, Role.center_staff)
    rows = session.execute(
        sa.select(Loan.university_id, sa.func.count(sa.distinct(Loan.id)),
                  money_total(JournalLeg.amount))
        .select_from(JournalLeg)
        .join(Account, Account.id == JournalLeg.account_id)
        .join(Loan, Loan.id == JournalLeg.loan_id)
        .where(Account.code == "forgiveness_fund", visible(principal, Loan),
               JournalLeg.entry_id.in_(_entries_through(through)))
        .group_by(Loan.university_id).order_by(Loan.university_id)
    ).all()
    return [{"university_id": uni, "loans": n, "amount": total}
            for uni, n, total in rows if total != 0]


def _entries_through(day: dt.date) -> Any:
    return sa.select(JournalEntry.id).where(JournalEntry.value_date <= day)


def staff_ratio(session: Session, principal: Principal, *, academic_year: str
                ) -> list[dict[str, Any]]:
    """Full-time aid staff against full-time students (policy: 1 per 2500)."""
    students = (
        sa.select(Enrolment.university_id, sa.func.sum(Enrolment.count).label("students"))
        .where(Enrolment.academic_year == academic_year, Enrolment.full_time.is_(True))
        .group_by(Enrolment.university_id).subquery()
    )
    rows = session.execute(
        sa.select(University.id, University.name, University.staff_count,
                  sa.func.coalesce(students.c.students, 0))
        .outerjoin(students, students.c.university_id == University.id)
        .where(visible(principal, University)).order_by(University.id)
    ).all()
    out = []
    for uni, name, staff, count in rows:
        required = -(-int(count) // 2500)  # ceiling: 1 staff per 2500 students
        out.append({"university_id": uni, "university_name": name, "staff": staff,
                    "full_time_students": int(count), "required_staff": required,
                    "meets_ratio": staff >= required})
    return out


# -- credit reporting (征信) ----------------------------------------------------

CREDIT_COLUMNS = ["report_month", "account_no", "bank_code", "borrower_name", "id_type",
                  "id_number", "open_date", "status", "principal_balance", "overdue_amount",
                  "days_past_due", "worst_status"]


def _credit_status(state: Any) -> str:
    if state.status == "closed":
        return "closed"
    if state.default_reportable:
        return "default"
    return "overdue" if state.overdue.days_past_due > 0 else "normal"


def _grade(days_past_due: int) -> str:
    """Delinquency grade of the monthly file: N (current), 1..5 by bucket."""
    return "N" if days_past_due == 0 else str(
        1 + sum(days_past_due > upper for upper in (30, 90, 180, 365)))


def credit_report(session: Session, principal: Principal, *, year: int, month: int
                  ) -> Iterator[list[Any]]:
    """One line per loan disbursed by the month's end (docs/credit-reporting.md)."""
    require_role(principal, Role.bank_operator, Role.center_staff)
    first = dt.date(year, month, 1)
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    query = (loans_query(principal, last, Filters()).add_columns(Loan.signed_on)
             .where(_disbursed_by(last)))
    codes = dict(session.execute(sa.select(Bank.id, Bank.code)).all())
    for rows in keyset(session, query):
        events = defaultdict(list)
        for event in session.scalars(
            sa.select(LoanEvent).where(LoanEvent.loan_id.in_([r.loan_id for r in rows]),
                                       LoanEvent.event_date <= last)
            .order_by(LoanEvent.event_date, LoanEvent.id)
        ):
            events[event.loan_id].append(event)
        for row in rows:
            yield _credit_line(row, events[row.loan_id], first, last, codes[row.bank_id])


def _credit_line(row: Any, events: list[LoanEvent], first: dt.date, last: dt.date,
                 bank_code: str) -> list[Any]:
    """The month-end state; the worst grade of the month is at its end or on the
    day before a payment (days past due only grow between payments)."""
    terms = terms_of(row)
    machine = LoanMachine(terms)
    stream = engine_events(events, terms)
    checkpoints = sorted({e.event_date - dt.timedelta(days=1) for e in events
                          if e.kind == EventKind.payment and first < e.event_date <= last}
                         | {last})
    worst = 0
    for day in checkpoints:
        state = read_state(machine.run(stream, day), day)
        worst = max(worst, state.overdue.days_past_due)
    o = state.overdue
    return [f"{last:%Y-%m}", row.contract_no, bank_code, row.borrower_name, "0",
            row.id_number, row.signed_on, _credit_status(state), state.principal_outstanding,
            o.principal + o.interest + o.penalty_accrued, o.days_past_due, _grade(worst)]
