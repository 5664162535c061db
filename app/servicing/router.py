"""Stored loans over HTTP: state as of any date, events from banks and universities."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query

from app import clock
from app.auth.deps import CurrentPrincipal
from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.scope import get_visible, require_role, select_visible
from app.bankfiles.models import BankLine
from app.deps import DbSession
from app.engine.projection import payoff_quote, preview_schedule
from app.engine.scenario import state_to_json
from app.errors import Conflict, InvalidInput, NotFound
from app.money import fmt
from app.servicing import scope as _scope  # noqa: F401  (registers the loan scope rules)
from app.servicing import service
from app.servicing.models import EventKind, Loan, LoanEvent
from app.servicing.schemas import (
    ContactIn,
    LoanEventOut,
    LoanSummary,
    PaymentIn,
    PlanIn,
    RateChangeIn,
    ReversalIn,
    StatusEventIn,
)

router = APIRouter(prefix="/loans", tags=["loans"])


def _loan(session, principal: Principal, loan_id: int) -> Loan:
    return get_visible(session, principal, Loan, loan_id)


def _bank_loan(session, principal: Principal, loan_id: int) -> Loan:
    loan = _loan(session, principal, loan_id)
    require_role(principal, Role.bank_operator)
    return loan


@router.get("", response_model=list[LoanSummary])
def list_loans(
    session: DbSession,
    principal: CurrentPrincipal,
    university_id: int | None = None,
    bank_id: int | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[Loan]:
    query = select_visible(principal, Loan)
    for column, value in ((Loan.university_id, university_id), (Loan.bank_id, bank_id),
                          (Loan.status, status)):
        if value is not None:
            query = query.where(column == value)
    return list(session.scalars(query.order_by(Loan.id).limit(limit).offset(offset)))


@router.get("/{loan_id}")
def get_loan(
    session: DbSession, principal: CurrentPrincipal, loan_id: int,
    as_of: dt.date | None = None,
) -> dict[str, Any]:
    """The loan's figures as of ``as_of`` (default: today), computed by the engine."""
    loan = _loan(session, principal, loan_id)
    state = service.loan_state(session, loan, as_of or clock.today())
    return {"loan": LoanSummary.model_validate(loan).model_dump(mode="json"),
            **state_to_json(state)}


@router.get("/{loan_id}/events", response_model=list[LoanEventOut])
def list_events(session: DbSession, principal: CurrentPrincipal, loan_id: int) -> list[LoanEvent]:
    loan = _loan(session, principal, loan_id)
    return service.load_events(session, loan.id)


@router.get("/{loan_id}/schedule")
def schedule(
    session: DbSession, principal: CurrentPrincipal, loan_id: int, as_of: dt.date | None = None
) -> dict[str, Any]:
    """Bills still to come if each is paid in full on its due date."""
    loan = _loan(session, principal, loan_id)
    machine = service.run_loan(session, loan, as_of or clock.today())
    bills = preview_schedule(machine)
    return {
        "as_of": (as_of or clock.today()).isoformat(),
        "installment": None if machine.plan is None else fmt(machine.instalment),
        "bills": [{"date": b.date.isoformat(), "interest": fmt(b.interest),
                   "principal": fmt(b.principal), "total": fmt(b.interest + b.principal)}
                  for b in bills],
    }


@router.get("/{loan_id}/payoff")
def payoff(
    session: DbSession, principal: CurrentPrincipal, loan_id: int, date: dt.date | None = None
) -> dict[str, Any]:
    """The amount that closes the loan if paid on ``date``: no prepayment fee."""
    loan = _loan(session, principal, loan_id)
    day = date or clock.today()
    quote = payoff_quote(service.run_loan(session, loan, day - dt.timedelta(days=1)), day)
    return {"date": day.isoformat(), "total": fmt(quote.total), "penalty": fmt(quote.penalty),
            "billed_interest": fmt(quote.billed_interest),
            "billed_principal": fmt(quote.billed_principal),
            "accrued_interest": fmt(quote.accrued_interest),
            "principal_unbilled": fmt(quote.principal_unbilled)}


@router.post("/{loan_id}/plan", status_code=201, response_model=LoanEventOut)
def confirm_plan(
    session: DbSession, principal: CurrentPrincipal, loan_id: int, body: PlanIn
) -> LoanEvent:
    """The bank records the plan confirmed with the borrower, or its one adjustment."""
    loan = _bank_loan(session, principal, loan_id)
    data = body.model_dump(exclude={"confirmed_on"})
    return service.record_event(session, principal, loan, kind=EventKind.plan,
                                event_date=body.confirmed_on, data=data)


def _txn_taken(session, loan: Loan, bank_txn_id: str | None) -> None:
    """A bank transaction is taken by a recorded event or by a line of the bank's
    files (posted lines are recorded as events only when applied)."""
    if bank_txn_id is None:
        return
    taken = session.scalar(
        sa.select(LoanEvent.id).join(Loan, Loan.id == LoanEvent.loan_id)
        .where(Loan.bank_id == loan.bank_id, LoanEvent.external_ref == bank_txn_id)
    ) or session.scalar(sa.select(BankLine.id).where(BankLine.bank_id == loan.bank_id,
                                                     BankLine.txn_key == bank_txn_id))
    if taken is not None:
        raise Conflict(f"bank_txn_id {bank_txn_id} was already recorded", field="bank_txn_id",
                       code="duplicate")


@router.post("/{loan_id}/payments", status_code=201, response_model=LoanEventOut)
def record_payment(
    session: DbSession, principal: CurrentPrincipal, loan_id: int, body: PaymentIn
) -> LoanEvent:
    loan = _bank_loan(session, principal, loan_id)
    _txn_taken(session, loan, body.bank_txn_id)
    return service.record_event(session, principal, loan, kind=EventKind.payment,
                                event_date=body.value_date, amount=body.amount,
                                external_ref=body.bank_txn_id)


@router.post("/{loan_id}/payments/{event_id}/reversal", status_code=201,
             response_model=LoanEventOut)
def reverse_payment(
    session: DbSession, principal: CurrentPrincipal, loan_id: int, event_id: int,
    body: ReversalIn,
) -> LoanEvent:
    """冲正: undo a payment; the loan is recomputed as if it had never been made."""
    loan = _bank_loan(session, principal, loan_id)
    payment = session.get(LoanEvent, event_id)
    if payment is None or payment.loan_id != loan.id or payment.kind != EventKind.payment:
        raise NotFound(f"payment {event_id} not found on loan {loan.id}")
    already = session.scalar(sa.select(LoanEvent.id).where(LoanEvent.reverses_event_id == event_id))
    if already is not None:
        raise Conflict(f"payment {event_id} is already reversed", code="already_reversed")
    _txn_taken(session, loan, body.bank_txn_id)
    return service.record_event(session, principal, loan, kind=EventKind.payment_reversal,
                                event_date=body.value_date, amount=payment.amount,
                                reverses_event_id=event_id, external_ref=body.bank_txn_id)


@router.post("/{loan_id}/contacts", status_code=201, response_model=LoanEventOut)
def record_contact(
    session: DbSession, principal: CurrentPrincipal, loan_id: int, body: ContactIn
) -> LoanEvent:
    """A contact with the borrower; only borrower-initiated ones count for default."""
    loan = _bank_loan(session, principal, loan_id)
    return service.record_event(session, principal, loan, kind=EventKind.contact,
                                event_date=body.date,
                                data={"channel": body.channel, "initiated_by": body.initiated_by,
                                      "note": body.note})


@router.post("/{loan_id}/rate-changes", status_code=201, response_model=LoanEventOut)
def change_rate(
    session: DbSession, principal: CurrentPrincipal, loan_id: int, body: RateChangeIn
) -> LoanEvent:
    loan = _bank_loan(session, principal, loan_id)
    return service.record_event(session, principal, loan, kind=EventKind.rate_change,
                                event_date=body.effective_date,
                                data={"annual_rate": str(body.annual_rate)})


@router.post("/{loan_id}/status-events", status_code=201, response_model=LoanEventOut)
def record_status(
    session: DbSession, principal: CurrentPrincipal, loan_id: int, body: StatusEventIn
) -> LoanEvent:
    """The university records graduation, withdrawal or continued study.

    Graduation (and withdrawal, serviced as one) is refused until the
    borrower has confirmed a repayment plan with the bank (还款确认后方可办理毕业手续).
    """
    loan = _loan(session, principal, loan_id)
    require_role(principal, Role.university_officer)
    kind = EventKind(body.kind)
    if kind == EventKind.continued_study_start and not body.proof_reference:
        raise InvalidInput("continued study needs the written proof's reference",
                           field="proof_reference")
    if kind != EventKind.continued_study_start and not service.has_plan_since_last_study(
        session, loan
    ):
        raise Conflict(
            "graduation refused: the borrower has not confirmed a repayment plan with the bank",
            code="plan_not_confirmed",
        )
    data = {"proof_reference": body.proof_reference} if body.proof_reference else {}
    return service.record_event(session, principal, loan, kind=kind, event_date=body.date,
                                data=data)
