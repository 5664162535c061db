"""Column types that keep personal data encrypted at rest, callers unchanged.

* ``EncryptedText`` / ``EncryptedBytes``: values are encrypted when written and
  decrypted when read (also when selected as a column in a Core query); text
  as Fernet tokens, bytes sealed with AES-256-GCM (``app.privacy.crypto``).
* ``IdNumber``: an ``EncryptedText`` for citizen ID numbers, paired with a
  lookup-hash column of the same table; ``column == "11010519491231002X"``
  (and ``!=``, ``in_``) compare the hashes, so
  ``select(Borrower).where(Borrower.id_number == n)`` keeps working.  The model
  keeps the hash up to date with ``lookup_hash_of`` (see ``Borrower``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from app.privacy.crypto import data_keys
from app.privacy.masking import mask_id_number


class EncryptedText(TypeDecorator[str]):
    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return data_keys().encrypt(str(value).encode()).decode("ascii")

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return data_keys().decrypt(value.encode("ascii")).decode()


class EncryptedBytes(TypeDecorator[bytes]):
    """Bulk bytes, sealed (``DataKeys.seal``)."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> bytes | None:
        return None if value is None else data_keys().seal(bytes(value))

    def process_result_value(self, value: Any, dialect: Any) -> bytes | None:
        return None if value is None else data_keys().unseal(bytes(value))


def lookup_hash_of(id_number: str | None) -> str | None:
    """The lookup hash of an ID number (upper-case check character)."""
    return None if id_number is None else data_keys().lookup_hash(id_number.strip().upper())


class IdNumber(EncryptedText):
    """An encrypted ID number whose equality goes through ``hash_column``."""

    cache_ok = True

    def __init__(self, hash_column: str) -> None:
        super().__init__()
        self.hash_column = hash_column

    class comparator_factory(EncryptedText.Comparator):  # noqa: N801 (SQLAlchemy's name)
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            if op in (operators.is_, operators.is_not):
                return super().operate(op, *other, **kwargs)
            hashed = self.expr.table.c[self.type.hash_column]
            if op in (operators.eq, operators.ne):
                return op(hashed, lookup_hash_of(other[0]))
            if op in (operators.in_op, operators.not_in_op):
                return op(hashed, [lookup_hash_of(v) for v in other[0]])
            raise NotImplementedError(
                "an encrypted ID number can only be compared for (in)equality"
            )


def protected_value(column: sa.ColumnElement[Any], value: Any) -> Any:
    """``value`` of ``column`` as it may be shown outside the column (an audit
    snapshot): ID numbers masked, other encrypted data left out."""
    if value is None or not isinstance(column.type, EncryptedText | EncryptedBytes):
        return value
    return mask_id_number(value) if isinstance(column.type, IdNumber) else "(encrypted)"
