"""Universities' repayment record: how many of their graduates' loans are in default.

Counted from the figures each loan's last servicing run cached (``Loan.status``
and ``Loan.default_reportable``), per university.  The interface —
university ids in, a ``RepaymentRecord`` per university out — is what the
risk-compensation weighting needs; the center's repayment-performance
report can supply it instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, localcontext

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.money import EXACT, ZERO
from app.servicing.models import Loan


@dataclass(frozen=True)
class RepaymentRecord:
    graduates: int  # loans past school: graduated, repaying or closed
    defaults: int  # of which reportable as defaulted

    @property
    def default_rate(self) -> Decimal:
        if not self.graduates:
            return ZERO
        with localcontext(EXACT):
            return Decimal(self.defaults) / Decimal(self.graduates)


def repayment_records(
    session: Session, university_ids: Iterable[int]
) -> dict[int, RepaymentRecord]:
    ids = list(university_ids)
    rows = session.execute(
        sa.select(Loan.university_id, sa.func.count(),
                  sa.func.count().filter(Loan.default_reportable.is_(True)))
        .where(Loan.university_id.in_(ids), Loan.status != "in_school")
        .group_by(Loan.university_id)
    ).all()
    found = {uid: RepaymentRecord(int(n), int(d)) for uid, n, d in rows}
    return {uid: found.get(uid, RepaymentRecord(0, 0)) for uid in ids}
