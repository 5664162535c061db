"""Re-encryption of every encrypted column under the current data key, and
recomputation of the ID numbers' lookup hashes under the current hash key
(``loans admin rotate-data-key``).

Covers every column of the metadata whose type is ``EncryptedText`` or
``EncryptedBytes``, so a module that adds one needs nothing more here.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db import Base
from app.privacy.crypto import data_keys
from app.privacy.types import EncryptedBytes, EncryptedText, IdNumber, lookup_hash_of

BATCH = 500


def encrypted_columns() -> Iterator[sa.Column]:
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText | EncryptedBytes):
                yield column


def rotate_data_keys(session: Session) -> dict[str, int]:
    """Re-encrypt every value (and re-hash every ID number); the count of rows
    rewritten per ``table.column``."""
    keys = data_keys()
    counts: dict[str, int] = {}
    for column in encrypted_columns():
        table = column.table
        pk = list(table.primary_key.columns)
        # The stored ciphertext as it is, not decrypted by the column type.
        stored = sa.type_coerce(column, column.type.impl)
        text = isinstance(column.type, EncryptedText)
        done = 0
        last: tuple | None = None
        while True:
            query = (sa.select(*pk, stored.label("raw")).where(stored.is_not(None))
                     .order_by(*pk).limit(BATCH))
            if last is not None:
                query = query.where(sa.tuple_(*pk) > sa.tuple_(*last))
            rows = session.execute(query).all()
            if not rows:
                break
            for row in rows:
                token = row.raw.encode("ascii") if text else bytes(row.raw)
                rotated = keys.rotate(token) if text else keys.reseal(token)
                values = {column.name: sa.type_coerce(
                    rotated.decode("ascii") if text else rotated, column.type.impl)}
                if isinstance(column.type, IdNumber):
                    plain = keys.decrypt(token).decode()
                    values[column.type.hash_column] = lookup_hash_of(plain)
                session.execute(
                    table.update()
                    .where(*(c == v for c, v in zip(pk, row[: len(pk)], strict=True)))
                    .values(values)
                )
            done += len(rows)
            last = tuple(rows[-1][: len(pk)])
        counts[f"{table.name}.{column.name}"] = done
    return counts
