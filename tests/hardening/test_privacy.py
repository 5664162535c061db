"""ID numbers encrypted at rest with a keyed lookup hash; masking; key rotation."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app import audit
from app.auth.principal import Principal
from app.bankfiles.models import FileFormat
from app.bankfiles.service import create_upload
from app.bankfiles.storage import spool
from app.config import Settings
from app.privacy import crypto
from app.privacy.masking import mask_id_number, redact_id_numbers
from app.privacy.rotation import rotate_data_keys
from app.servicing.models import Borrower
from app.servicing.service import find_or_create_borrower
from tests import factories

ID = "11010519491231002X"


@pytest.fixture
def use_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[list[str], str], None]]:
    """``use_keys([encryption keys], hash key)``: the data keys from now on."""

    def use(encryption_keys: list[str], hash_key: str) -> None:
        settings = Settings(data_encryption_keys=",".join(encryption_keys), data_hash_key=hash_key)
        monkeypatch.setattr(crypto, "get_settings", lambda: settings)
        crypto.data_keys.cache_clear()

    yield use
    monkeypatch.undo()
    crypto.data_keys.cache_clear()


def _stored(db: Session, borrower_id: int) -> sa.Row:
    return db.execute(
        sa.text("SELECT id_number, id_number_hash FROM borrowers WHERE id = :id"),
        {"id": borrower_id},
    ).one()


def test_stored_encrypted_and_found_by_lookup_hash(db: Session) -> None:
    borrower = find_or_create_borrower(db, name="张三", id_number=ID)
    db.expire_all()
    stored = _stored(db, borrower.id)
    assert ID not in stored.id_number and ID[6:14] not in stored.id_number
    assert stored.id_number_hash == crypto.data_keys().lookup_hash(ID)
    assert db.get(Borrower, borrower.id).id_number == ID
    # Same person (lower-case check character too): the same row.
    assert find_or_create_borrower(db, name="张三", id_number=ID.lower()).id == borrower.id
    found = db.scalars(sa.select(Borrower).where(Borrower.id_number.in_([ID, "x"]))).all()
    assert [b.id for b in found] == [borrower.id]
    selected = sa.select(Borrower.id_number).where(Borrower.id == borrower.id)
    assert db.execute(selected).scalar() == ID
    with pytest.raises(NotImplementedError):
        Borrower.id_number.like("110105%")


def test_two_encryptions_differ_but_hash_alike(db: Session) -> None:
    keys = crypto.data_keys()
    assert keys.encrypt(ID.encode()) != keys.encrypt(ID.encode())
    assert keys.lookup_hash(ID) == keys.lookup_hash(ID)


@pytest.mark.parametrize("hash_key", ["short", "k" * 64, "a longer key than one block " * 4])
def test_lookup_hash_is_hmac_sha256(use_keys, hash_key: str) -> None:
    """The precomputed HMAC states give exactly the standard HMAC-SHA256."""
    use_keys([crypto.generate_key()], hash_key)
    for value in (ID, "", "中文"):
        expected = hmac.new(hash_key.encode(), value.encode(), hashlib.sha256).hexdigest()
        assert crypto.data_keys().lookup_hash(value) == expected


def test_audit_snapshot_masks_the_id_number(db: Session) -> None:
    borrower = find_or_create_borrower(db, name="李四", id_number=ID)
    assert audit.snapshot(borrower)["id_number"] == "110105********002X"


def test_masking() -> None:
    assert mask_id_number(ID) == "110105********002X"
    assert redact_id_numbers(f"id={ID}, contract NSL-4401-2023-000123, B20270120000001") == (
        "id=110105********002X, contract NSL-4401-2023-000123, B20270120000001"
    )


def test_rotation_re_encrypts_and_re_hashes(db: Session, use_keys) -> None:
    old, new, old_hash, new_hash = (crypto.generate_key() for _ in range(4))
    use_keys([old], old_hash)
    borrower = find_or_create_borrower(db, name="王五", id_number=ID)
    db.flush()
    before = _stored(db, borrower.id)

    use_keys([new, old], new_hash)
    counts = rotate_data_keys(db)
    assert counts["borrowers.id_number"] >= 1
    after = _stored(db, borrower.id)
    assert after.id_number != before.id_number
    assert after.id_number_hash == crypto.data_keys().lookup_hash(ID) != before.id_number_hash

    use_keys([new], new_hash)  # the old key retired
    db.expire_all()
    assert db.get(Borrower, borrower.id).id_number == ID
    assert find_or_create_borrower(db, name="王五", id_number=ID).id == borrower.id
    with pytest.raises(ValueError, match="undecryptable"):
        crypto.DataKeys([old], old_hash).decrypt(after.id_number.encode())


def _parts(db: Session, upload_id: int) -> list[bytes]:
    return [bytes(v) for v in db.execute(sa.text(
        "SELECT data FROM bank_upload_parts WHERE upload_id = :id ORDER BY seq"),
        {"id": upload_id}).scalars()]


def test_bulk_bytes_are_sealed_and_refused_when_altered(use_keys) -> None:
    key = crypto.generate_key()
    use_keys([key], "h")
    keys = crypto.data_keys()
    data = ID.encode() * 1000
    sealed = keys.seal(data)
    assert sealed.startswith(crypto.SEALED) and ID.encode() not in sealed
    # header ("\0G1", 4-byte key id), 12-byte nonce, the bytes, 16-byte tag
    assert len(sealed) == len(crypto.SEALED) + 4 + 12 + len(data) + 16
    assert keys.seal(data) != sealed
    assert keys.unseal(sealed) == data
    assert crypto.DataKeys([crypto.generate_key(), key], "h").unseal(sealed) == data
    for altered in (sealed[:-1] + bytes([sealed[-1] ^ 1]),  # the tag
                    sealed[:40] + bytes([sealed[40] ^ 1]) + sealed[41:],  # the ciphertext
                    sealed[:3] + b"\0\0\0\0" + sealed[7:],  # the key id
                    sealed[:10], sealed[:40]):  # cut short
        with pytest.raises(ValueError, match="undecryptable"):
            keys.unseal(altered)
    with pytest.raises(ValueError, match="undecryptable"):
        crypto.DataKeys([crypto.generate_key()], "h").unseal(sealed)
    # Bytes stored as Fernet tokens (before sealing) are still read.
    assert keys.unseal(keys.encrypt(data)) == data


def test_rotation_reseals_bank_file_parts(db: Session, use_keys, make_bank) -> None:
    old, new = crypto.generate_key(), crypto.generate_key()
    use_keys([old], "h")
    data = b"bank_txn_id,contract_no,id_number\n" * 50_000  # two parts
    upload, _ = create_upload(db, Principal.operator("test"), file=spool([data], max_bytes=2**30),
                              format=FileFormat.repayment_csv, bank_id=make_bank().id)
    db.flush()
    upload_id = upload.id
    before = _parts(db, upload_id)
    use_keys([new, old], "h")
    assert rotate_data_keys(db)["bank_upload_parts.data"] == len(before) == 2
    after = _parts(db, upload_id)
    assert all(a != b and a.startswith(crypto.SEALED) for a, b in zip(after, before, strict=True))
    use_keys([new], "h")  # the old key retired
    assert b"".join(crypto.data_keys().unseal(part) for part in after) == data
    with pytest.raises(ValueError, match="undecryptable"):
        crypto.DataKeys([old], "h").unseal(after[0])


def test_a_loan_carries_its_borrowers_hash_through_rotation(db: Session, use_keys) -> None:
    """The database keeps ``loans.borrower_hash`` (what a bank file's line is
    matched against) equal to the borrower's: set when the loan is opened,
    restored when anything else is written to it, re-hashed with the borrower
    when the hash key rotates (migration 0020)."""
    old, new, old_hash, new_hash = (crypto.generate_key() for _ in range(4))
    use_keys([old], old_hash)
    loan = factories.make_loan(db, id_number=ID)
    first = crypto.data_keys().lookup_hash(ID)
    assert borrower_hashes(db, loan.id) == (first, first)
    db.execute(sa.text("UPDATE loans SET borrower_hash = 'forged' WHERE id = :id"),
               {"id": loan.id})
    assert borrower_hashes(db, loan.id) == (first, first)

    use_keys([new, old], new_hash)
    rotate_data_keys(db)
    second = crypto.data_keys().lookup_hash(ID)
    assert second != first
    assert borrower_hashes(db, loan.id) == (second, second)


def borrower_hashes(db: Session | Connection, loan_id: int) -> tuple[str, str]:
    """The hash kept on the loan's row and its borrower's, as stored."""
    return tuple(db.execute(sa.text(
        "SELECT l.borrower_hash, b.id_number_hash FROM loans l "
        "JOIN borrowers b ON b.id = l.borrower_id WHERE l.id = :id"), {"id": loan_id}).one())
