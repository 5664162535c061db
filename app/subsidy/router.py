"""Subsidy statements over HTTP: a bank sees its own, a center those it approves and pays."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query

from app.auth.deps import CurrentPrincipal
from app.auth.scope import get_visible, select_visible
from app.deps import DbSession
from app.exports import Format, table_response
from app.reference.models import University
from app.servicing.models import Borrower, Loan
from app.subsidy import scope as _scope  # noqa: F401  (registers the scope rules)
from app.subsidy import service
from app.subsidy.models import StatementStatus, SubsidyStatement, SubsidyStatementLine
from app.subsidy.schemas import PayIn, StatementDetail, StatementOut

router = APIRouter(prefix="/subsidy-statements", tags=["subsidy"])

LINE_COLUMNS = [
    ("loan_id", "loan id"), ("contract_no", "contract"), ("borrower_name", "borrower"),
    ("university_name", "university"), ("policy_code", "policy"), ("kind", "line"),
    ("claim_date", "claim date"), ("previously_claimed", "previously claimed"),
    ("claim_amount", "claim"), ("amount", "amount"),
]


def _line_rows(session: DbSession, statement_id: int) -> list[dict[str, Any]]:
    line = SubsidyStatementLine
    rows = session.execute(
        sa.select(line, Loan.contract_no, Loan.university_id, Loan.policy_code,
                  Borrower.name, University.name)
        .join(Loan, Loan.id == line.loan_id).join(Borrower, Borrower.id == Loan.borrower_id)
        .join(University, University.id == Loan.university_id)
        .where(line.statement_id == statement_id).order_by(line.loan_id, line.claim_date)
    ).all()
    return [{"loan_id": x.loan_id, "contract_no": contract, "borrower_name": borrower,
             "university_id": university_id, "university_name": university,
             "policy_code": policy, "kind": x.kind.value, "claim_date": x.claim_date,
             "previously_claimed": x.previously_claimed, "claim_amount": x.claim_amount,
             "amount": x.amount}
            for x, contract, university_id, policy, borrower, university in rows]


@router.get("", response_model=list[StatementOut])
def list_statements(
    session: DbSession,
    principal: CurrentPrincipal,
    bank_id: int | None = None,
    center_id: int | None = None,
    settlement_date: dt.date | None = None,
    status: StatementStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[SubsidyStatement]:
    query = select_visible(principal, SubsidyStatement)
    for column, value in ((SubsidyStatement.bank_id, bank_id),
                          (SubsidyStatement.center_id, center_id),
                          (SubsidyStatement.settlement_date, settlement_date),
                          (SubsidyStatement.status, status)):
        if value is not None:
            query = query.where(column == value)
    query = query.order_by(SubsidyStatement.settlement_date, SubsidyStatement.id)
    return list(session.scalars(query.limit(limit).offset(offset)))


@router.get("/{statement_id}", response_model=StatementDetail,
            responses={200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-"
                                         "officedocument.spreadsheetml.sheet": {}}}})
def get_statement(
    session: DbSession, principal: CurrentPrincipal, statement_id: int,
    format: Format = "json",
) -> Any:
    """The statement with loan-level detail; ``format=csv`` or ``xlsx`` downloads the lines."""
    statement = get_visible(session, principal, SubsidyStatement, statement_id)
    rows = _line_rows(session, statement.id)
    if format != "json":
        name = f"subsidy-{statement.settlement_date.isoformat()}-statement-{statement.id}"
        return table_response(format, name, LINE_COLUMNS, rows)
    return StatementDetail.model_validate(
        StatementOut.model_validate(statement).model_dump() | {"lines": rows})


@router.post("/{statement_id}/approve", response_model=StatementOut)
def approve(session: DbSession, principal: CurrentPrincipal, statement_id: int) -> Any:
    return service.approve(session, principal, statement_id=statement_id)


@router.post("/{statement_id}/pay", response_model=StatementOut)
def pay(session: DbSession, principal: CurrentPrincipal, statement_id: int, body: PayIn) -> Any:
    return service.pay(session, principal, statement_id=statement_id, paid_on=body.paid_on)
