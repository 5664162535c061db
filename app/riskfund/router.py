"""The risk-compensation fund over HTTP."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.auth.deps import CurrentPrincipal
from app.auth.scope import get_visible, select_visible
from app.deps import DbSession
from app.exports import Format, table_response
from app.riskfund import scope as _scope  # noqa: F401  (registers the scope rules)
from app.riskfund import service
from app.riskfund.models import RiskFund, RiskFundShare
from app.riskfund.schemas import ConfirmIn, FundPayIn, RiskFundDetail, RiskFundOut, ShareOut

router = APIRouter(prefix="/risk-funds", tags=["risk fund"])

SHARE_COLUMNS = [("university_id", "university id"), ("disbursed", "disbursed"),
                 ("graduates", "graduates"), ("defaults", "defaults"),
                 ("multiplier", "multiplier"), ("share", "share")]


@router.get("", response_model=list[RiskFundOut])
def list_funds(
    session: DbSession, principal: CurrentPrincipal, year: int | None = None,
    agreement_id: int | None = None,
) -> list[RiskFund]:
    query = select_visible(principal, RiskFund)
    if year is not None:
        query = query.where(RiskFund.year == year)
    if agreement_id is not None:
        query = query.where(RiskFund.agreement_id == agreement_id)
    return list(session.scalars(query.order_by(RiskFund.year, RiskFund.agreement_id)))


@router.get("/{fund_id}", response_model=RiskFundDetail)
def get_fund(
    session: DbSession, principal: CurrentPrincipal, fund_id: int, format: Format = "json"
) -> Any:
    """The fund and its shares; ``format=csv`` or ``xlsx`` downloads the shares."""
    fund = get_visible(session, principal, RiskFund, fund_id)
    shares = session.scalars(select_visible(principal, RiskFundShare)
                             .where(RiskFundShare.fund_id == fund.id)
                             .order_by(RiskFundShare.university_id))
    rows = [ShareOut.model_validate(share).model_dump() for share in shares]
    if format != "json":
        name = f"risk-fund-{fund.year}-agreement-{fund.agreement_id}"
        return table_response(format, name, SHARE_COLUMNS, rows)
    return RiskFundOut.model_validate(fund).model_dump() | {"shares": rows}


@router.post("/{fund_id}/confirm", response_model=RiskFundOut)
def confirm(session: DbSession, principal: CurrentPrincipal, fund_id: int,
            body: ConfirmIn) -> Any:
    return service.confirm(session, principal, fund_id=fund_id, disbursed=body.disbursed)


@router.post("/{fund_id}/pay", response_model=RiskFundOut)
def pay(session: DbSession, principal: CurrentPrincipal, fund_id: int, body: FundPayIn) -> Any:
    return service.pay(session, principal, fund_id=fund_id, paid_on=body.paid_on)
