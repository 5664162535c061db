"""Computing, confirming and paying the risk-compensation fund (policy.md).

fund = the agreement's rate × the year's disbursements under it, rounded to
the fen; split into finance's half and the universities' half (an odd fen
goes to finance); the universities' half is shared in proportion to each
university's disbursements × the multiplier of its graduates' default-rate
tier, by largest remainder so the shares add up to the half exactly.

The default rate is the center's university repayment-performance report
(``app.defaults.reports.university_performance``, the engine's default
rule) on the last day of the fund's year, by count: reportable defaults
over graduates (loans whose borrower graduated by then), all graduation
cohorts together.  The policy tiers are defined on that rate.

Ledger (the bank's books, like the rest of the ledger): confirmation books
what the payers owe the bank — ``risk_fund_receivable_finance`` and
``risk_fund_receivable_universities`` against ``risk_compensation_income``;
payment moves it into ``bank_cash``.  Per-university amounts are the share
rows; the ledger keeps the universities' half as one receivable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, localcontext

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import clock
from app.audit.service import record, snapshot
from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import get_writable
from app.db import money_total
from app.defaults.reports import university_performance
from app.errors import Conflict, InvalidInput
from app.ledger.service import NewEntry, balanced_legs, post
from app.money import EXACT, ZERO, allocate_fen, round_fen
from app.policy import get_policy
from app.reference.models import Agreement
from app.riskfund.models import FundStatus, RiskFund, RiskFundShare
from app.servicing.models import EventKind, Loan, LoanEvent

JOB_NAME = "risk fund yearly job"


@dataclass(frozen=True)
class FundFigures:
    disbursed: Decimal
    fund: Decimal
    finance_half: Decimal
    universities_half: Decimal
    policy_code: str
    shares: list[RiskFundShare]


@dataclass(frozen=True)
class YearSummary:
    business_date: dt.date
    year: int
    funds_created: int
    total: Decimal


def _year_disbursements(
    session: Session, agreement_id: int, year: int
) -> list[tuple[int, Decimal, str, dt.date, int]]:
    """Each loan of the agreement with disbursements in ``year``:
    (university, amount disbursed in the year, policy, signed on, loan id)."""
    rows = session.execute(
        sa.select(Loan.university_id, money_total(LoanEvent.amount), Loan.policy_code,
                  Loan.signed_on, Loan.id)
        .join(LoanEvent, LoanEvent.loan_id == Loan.id)
        .where(Loan.agreement_id == agreement_id, LoanEvent.kind == EventKind.disbursement,
               LoanEvent.event_date.between(dt.date(year, 1, 1), dt.date(year, 12, 31)))
        .group_by(Loan.id, Loan.university_id, Loan.policy_code, Loan.signed_on)
    ).all()
    return [tuple(row) for row in rows]


def _graduates_record(session: Session, university_id: int, year: int) -> tuple[int, int]:
    """(graduates, reportable defaults) of the university on the year's last day."""
    cohorts = university_performance(session, as_of=dt.date(year, 12, 31),
                                     university_id=university_id)
    return sum(c.borrowers for c in cohorts), sum(c.defaulted for c in cohorts)


def _default_rate(graduates: int, defaults: int) -> Decimal:
    if not graduates:
        return ZERO
    with localcontext(EXACT):
        return Decimal(defaults) / Decimal(graduates)


def compute(session: Session, agreement: Agreement, year: int) -> FundFigures | None:
    """The fund's figures from the disbursements recorded now; None if there were none.

    The tiers are those of the policy version of the newest contract
    disbursed that year (the rules in force for the agreement's year).
    """
    loans = _year_disbursements(session, agreement.id, year)
    if not loans:
        return None
    by_university: dict[int, Decimal] = {}
    for uid, amount, *_ in loans:
        by_university[uid] = by_university.get(uid, ZERO) + amount
    disbursed = sum(by_university.values(), ZERO)
    policy = get_policy(max(loans, key=lambda x: (x[3], x[4]))[2])
    fund = round_fen(agreement.risk_compensation_rate * disbursed)
    finance_half, universities_half = allocate_fen(fund, [Decimal(1), Decimal(1)])
    universities = sorted(by_university)
    records = {u: _graduates_record(session, u, year) for u in universities}
    tiers = policy.risk_compensation
    multipliers = [tiers.multiplier(_default_rate(*records[u])) if tiers else Decimal(1)
                   for u in universities]
    parts = allocate_fen(universities_half,
                         [by_university[u] * m for u, m in zip(universities, multipliers,
                                                               strict=True)])
    shares = [RiskFundShare(university_id=u, disbursed=by_university[u],
                            graduates=records[u][0], defaults=records[u][1],
                            multiplier=m, share=part)
              for u, m, part in zip(universities, multipliers, parts, strict=True)]
    return FundFigures(disbursed, fund, finance_half, universities_half, policy.code, shares)


def _agreements_of_year(session: Session, year: int) -> list[Agreement]:
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    return list(session.scalars(
        sa.select(Agreement).where(Agreement.valid_from <= end,
                                   sa.or_(Agreement.valid_to.is_(None),
                                          Agreement.valid_to >= start))
        .order_by(Agreement.id)))


def run_year(session: Session, business_date: dt.date) -> YearSummary:
    """The yearly job: compute the fund of the last full year before ``business_date``.

    Keyed by agreement and year (unique): a fund already computed is left
    as it is, so running again for any date of the same year does nothing.
    """
    year = business_date.year - 1
    done = set(session.scalars(sa.select(RiskFund.agreement_id).where(RiskFund.year == year)))
    created, total = 0, ZERO
    for agreement in _agreements_of_year(session, year):
        if agreement.id in done:
            continue
        figures = compute(session, agreement, year)
        if figures is None:
            continue
        fund = RiskFund(agreement_id=agreement.id, year=year,
                        rate=agreement.risk_compensation_rate, status=FundStatus.computed,
                        computed_on=business_date)
        _set_figures(session, fund, figures)
        created, total = created + 1, total + figures.fund
    return YearSummary(business_date, year, created, total)


def _set_figures(session: Session, fund: RiskFund, figures: FundFigures) -> None:
    fund.policy_code = figures.policy_code
    fund.disbursed, fund.fund = figures.disbursed, figures.fund
    fund.finance_half, fund.universities_half = figures.finance_half, figures.universities_half
    if fund.id is None:
        session.add(fund)
    else:
        session.execute(sa.delete(RiskFundShare).where(RiskFundShare.fund_id == fund.id))
    session.flush()
    for share in figures.shares:
        share.fund_id = fund.id
    session.add_all(figures.shares)
    session.flush()


def shares_of(session: Session, fund_id: int) -> list[RiskFundShare]:
    return list(session.scalars(sa.select(RiskFundShare).where(RiskFundShare.fund_id == fund_id)
                                .order_by(RiskFundShare.university_id)))


def confirm(
    session: Session, principal: Principal, *, fund_id: int, disbursed: Decimal
) -> RiskFund:
    """The center confirms the year's disbursements actually made (``disbursed``).

    The figures are recomputed from the disbursements recorded now; if they
    total something else than the center confirms, nothing changes (409) —
    the center confirms what it has checked, never a stale figure.
    """
    fund = get_writable(session, principal, RiskFund, fund_id, Role.center_staff)
    if fund.status != FundStatus.computed:
        raise Conflict(f"risk fund {fund_id} is {fund.status.value}, not computed",
                       code="wrong_status")
    figures = compute(session, session.get(Agreement, fund.agreement_id), fund.year)
    recorded = figures.disbursed if figures else ZERO
    if recorded != disbursed:
        raise Conflict(f"disbursements recorded for {fund.year} total {recorded}, "
                       f"not {disbursed}", field="disbursed", code="disbursements_differ")
    before = snapshot(fund)
    _set_figures(session, fund, figures)
    legs = balanced_legs(
        ("risk_fund_receivable_finance", "risk_compensation_income", fund.finance_half),
        ("risk_fund_receivable_universities", "risk_compensation_income",
         fund.universities_half))
    if legs:
        [fund.confirmation_entry_id] = post(session, [NewEntry(
            key=f"risk_fund:{fund.id}:confirmation", kind="risk_fund_confirmation",
            value_date=clock.today(), legs=legs,
            memo=f"risk fund {fund.year} agreement {fund.agreement_id} confirmed")],
            posted_by=principal.user_name)
    fund.status = FundStatus.confirmed
    fund.confirmed_on, fund.confirmed_by = clock.today(), principal.user_name
    session.flush()
    record(session, principal, "risk_fund.confirm", fund, before, snapshot(fund))
    return fund


def pay(session: Session, principal: Principal, *, fund_id: int, paid_on: dt.date) -> RiskFund:
    """The fund is paid to the bank; only a confirmed fund can be."""
    fund = get_writable(session, principal, RiskFund, fund_id, Role.center_staff)
    if fund.status != FundStatus.confirmed:
        raise Conflict(f"risk fund {fund_id} is {fund.status.value}: the center must confirm "
                       "the year's disbursements before it is paid", code="wrong_status")
    if not fund.confirmed_on <= paid_on <= clock.today():
        raise InvalidInput("paid_on must lie between the confirmation and today",
                           field="paid_on")
    before = snapshot(fund)
    legs = balanced_legs(("bank_cash", "risk_fund_receivable_finance", fund.finance_half),
                         ("bank_cash", "risk_fund_receivable_universities",
                          fund.universities_half))
    if legs:
        [fund.payment_entry_id] = post(session, [NewEntry(
            key=f"risk_fund:{fund.id}:payment", kind="risk_fund_payment", value_date=paid_on,
            legs=legs, memo=f"risk fund {fund.year} agreement {fund.agreement_id} paid")],
            posted_by=principal.user_name)
    fund.status, fund.paid_on = FundStatus.paid, paid_on
    session.flush()
    record(session, principal, "risk_fund.pay", fund, before, snapshot(fund))
    return fund
