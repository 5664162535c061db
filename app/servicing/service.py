"""Stored loans: record events, run the engine over them, post what it decides.

Every stored-loan figure comes from ``app.engine`` — the same machine that
``loans simulate`` runs — over the loan's recorded events.  Recording an
event re-services the loan through the business date: the engine runs from
the first event (so a backdated payment recomputes everything after its
value date), and ``postings.sync_ledger`` books the difference as reversals
and new entries.  The run's machine is saved (``LoanEngineState``) and the
loan's next action date cached, so the nightly job (``app.servicing.batch``)
resumes it instead of replaying the loan's life.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import clock
from app.audit.service import record, snapshot
from app.auth.principal import Principal
from app.engine import snapshot as machine_snapshot
from app.engine.events import (
    Contact,
    ContinuedStudy,
    Disbursement,
    Event,
    EventError,
    Graduation,
    Payment,
    Plan,
    RateChange,
)
from app.engine.machine import LoanMachine, Terms
from app.engine.projection import payoff_quote
from app.engine.state import LoanState, read_standing, read_state
from app.errors import Conflict, InvalidInput
from app.ledger.service import post
from app.policy import get_policy
from app.servicing.models import Borrower, EventKind, Loan, LoanEngineState, LoanEvent
from app.servicing.postings import decided_entries, sync_ledger
from app.servicing.receipts import event_receipt


def terms_of(loan: Loan) -> Terms:
    return Terms(get_policy(loan.policy_code), loan.annual_rate, loan.penalty_markup,
                 loan.subsidy_settlement)


def load_events(session: Session, loan_id: int) -> list[LoanEvent]:
    return list(session.execute(
        sa.select(LoanEvent).where(LoanEvent.loan_id == loan_id)
        .order_by(LoanEvent.event_date, LoanEvent.id)
    ).scalars())


def engine_events(rows: list[LoanEvent], terms: Terms | None = None) -> list[Event]:
    """The stored events as the engine takes them (index = event id).

    Reversed payments are left out (a reversal undoes the payment as if it
    had never been made); withdrawal is a graduation on its date; only
    contacts the borrower initiated count for the default rule; a
    forgiveness is a payment of the payoff amount on its date (as quoted
    from the events before that date), so the loan closes (needs ``terms``).
    """
    reversed_ids = {r.reverses_event_id for r in rows if r.kind == EventKind.payment_reversal}
    out: list[Event] = []
    for r in rows:
        d, i = r.event_date, r.id
        match r.kind:
            case EventKind.disbursement:
                out.append(Disbursement(d, i, r.amount))
            case EventKind.graduation | EventKind.withdrawal:
                out.append(Graduation(d, i))
            case EventKind.continued_study_start:
                out.append(ContinuedStudy(d, i))
            case EventKind.plan:
                out.append(Plan(d, i, r.data["grace_months"], r.data["term_months"],
                                r.data["frequency"], r.data["method"]))
            case EventKind.payment if r.id not in reversed_ids:
                out.append(Payment(d, i, r.amount))
            case EventKind.contact if r.data.get("initiated_by") == "borrower":
                out.append(Contact(d, i))
            case EventKind.rate_change:
                out.append(RateChange(d, i, Decimal(r.data["annual_rate"])))
            case EventKind.forgiveness:
                if terms is None:
                    raise ValueError("a forgiveness event needs the loan's terms")
                before = [e for e in out if e.date < d]
                machine = LoanMachine(terms).run(before, d - dt.timedelta(days=1))
                out.append(Payment(d, i, payoff_quote(machine, d).total))
    return out


def forgiveness_ids(session: Session, loan_id: int) -> frozenset[int]:
    """The loan's forgiveness events: their payments come from the forgiveness fund."""
    return frozenset(session.scalars(sa.select(LoanEvent.id).where(
        LoanEvent.loan_id == loan_id, LoanEvent.kind == EventKind.forgiveness)))


def run_loan(session: Session, loan: Loan, through: dt.date) -> LoanMachine:
    """The engine run over the loan's events through ``through`` (inclusive)."""
    terms = terms_of(loan)
    return LoanMachine(terms).run(engine_events(load_events(session, loan.id), terms), through)


def loan_state(session: Session, loan: Loan, as_of: dt.date) -> LoanState:
    return read_state(run_loan(session, loan, as_of), as_of)


def cached_figures(machine: LoanMachine, through: dt.date) -> dict[str, Any]:
    """The ``Loan`` columns a servicing run through ``through`` leaves behind."""
    s = read_standing(machine, through)
    return {
        "serviced_through": through,
        "dirty_from": None,
        "next_action_on": machine.next_action(),
        "status": s.status,
        "principal_outstanding": s.principal_outstanding,
        "overdue_principal": s.overdue_principal,
        "overdue_interest": s.overdue_interest,
        "days_past_due": s.days_past_due,
        "arrears_run_start": s.arrears_run_start,
        "default_reportable": s.default_reportable,
        "acc_penalty": machine.acc_penalty,
        "acc_penalty_per_day": machine.penalty_per_day(through + dt.timedelta(days=1)),
    }


def save_machine(session: Session, loan_id: int, machine: LoanMachine) -> None:
    """Keep the machine for the nightly job to resume (insert or replace)."""
    saved = session.get(LoanEngineState, loan_id)
    text = machine_snapshot.dump(machine)
    if saved is None:
        session.add(LoanEngineState(loan_id=loan_id, through=machine.day, machine=text))
    else:
        saved.through, saved.machine = machine.day, text


def service_loan(session: Session, loan: Loan, *, through: dt.date, posted_by: str) -> LoanState:
    """Run the engine through ``through``, book its decisions, cache its figures."""
    try:
        machine = run_loan(session, loan, through)
    except EventError as exc:
        raise Conflict(str(exc), code="refused_by_rules") from None
    decided = decided_entries(loan.id, machine, forgiven=forgiveness_ids(session, loan.id))
    sync_ledger(session, loan.id, decided, posted_by=posted_by)
    for column, value in cached_figures(machine, through).items():
        setattr(loan, column, value)
    if machine.day is not None:
        save_machine(session, loan.id, machine)
    return read_state(machine, through)


def find_or_create_borrower(session: Session, *, name: str, id_number: str) -> Borrower:
    borrower = session.execute(
        sa.select(Borrower).where(Borrower.id_number == id_number)
    ).scalar_one_or_none()
    if borrower is None:
        borrower = Borrower(name=name, id_number=id_number)
        session.add(borrower)
        session.flush()
    return borrower


def open_loan(session: Session, principal: Principal, **fields: Any) -> Loan:
    """Create the serviced loan for a signed contract (called by origination).

    ``fields`` are ``Loan`` columns: contract_no, bank_id, university_id,
    center_id, agreement_id, borrower_id, policy_code, annual_rate,
    penalty_markup, subsidy_settlement, signed_on.
    """
    loan = Loan(**fields)
    session.add(loan)
    session.flush()
    record(session, principal, "loan.open", loan, before=None, after=snapshot(loan))
    return loan


def lock_loan(session: Session, loan: Loan) -> None:
    """Hold the loan's row until the transaction ends (PostgreSQL), so an event
    and the nightly job's chunk holding the loan never interleave."""
    session.execute(sa.select(Loan.id).where(Loan.id == loan.id).with_for_update())


def record_event(
    session: Session,
    principal: Principal,
    loan: Loan,
    *,
    kind: EventKind,
    event_date: dt.date,
    amount: Decimal | None = None,
    data: dict[str, Any] | None = None,
    reverses_event_id: int | None = None,
    source: str = "api",
    external_ref: str | None = None,
    service: bool = True,
) -> LoanEvent:
    """Record one event and (unless the nightly job is left to do it) re-service
    the loan.  A payment or reversal also books its receipt at once
    (``app.servicing.receipts``); servicing applies it.

    An event the rules refuse (a second plan adjustment, a disbursement after
    graduation…) raises ``Conflict`` and, the request rolling back, leaves
    nothing behind.
    """
    today = clock.today()
    if event_date > today:
        raise InvalidInput(f"date {event_date.isoformat()} is in the future", field="date",
                           code="future_date")
    lock_loan(session, loan)
    event = LoanEvent(
        loan_id=loan.id, kind=kind, event_date=event_date, amount=amount, data=data or {},
        reverses_event_id=reverses_event_id, source=source, external_ref=external_ref,
        recorded_by=principal.user_name,
    )
    session.add(event)
    session.flush()
    record(session, principal, f"loan_event.{kind.value}", event, before=None,
           after=snapshot(event))
    if kind in (EventKind.payment, EventKind.payment_reversal):
        post(session, [event_receipt(event)], posted_by=principal.user_name)
    if service:
        service_loan(session, loan, through=max(today, loan.serviced_through or today),
                     posted_by=principal.user_name)
    elif loan.dirty_from is None or event_date < loan.dirty_from:
        loan.dirty_from = event_date
    return event


def has_plan_since_last_study(session: Session, loan: Loan) -> bool:
    """The graduation gate: a plan confirmed since the borrower last went to school."""
    rows = load_events(session, loan.id)
    for row in reversed(rows):
        if row.kind == EventKind.plan:
            return True
        if row.kind == EventKind.continued_study_start:
            return False
    return False
