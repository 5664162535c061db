"""The bare endpoint of ``loans bench``'s API figure: one INSERT and nothing
else (no key, no audit), the baseline origination requests are measured
against on the same server.  Mounted only when ``LOANS_BENCH_ROUTES`` is set
(the bench's own server, never production); its table is the bench's, created
in the bench's schema by the bench (``BARE.create``), not by a migration."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import Field

from app.deps import DbSession
from app.schemas_common import RequestModel

BARE = sa.Table("bench_bare", sa.MetaData(),
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("note", sa.String(100), nullable=False))

router = APIRouter(tags=["bench"])


class BareIn(RequestModel):
    note: str = Field(max_length=100)


@router.post("/bench/bare-insert", status_code=201)
def bare_insert(session: DbSession, body: BareIn) -> dict[str, int]:
    return {"id": session.execute(
        sa.insert(BARE).values(note=body.note).returning(BARE.c.id)).scalar_one()}
