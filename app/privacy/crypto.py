"""Encryption at rest (Fernet: AES-128-CBC with HMAC-SHA256, random IV) and a
keyed lookup hash (HMAC-SHA256) for personal data.

The keys come from settings (``data_encryption_keys``, ``data_hash_key``);
``data_keys()`` is what the column types use.  Several encryption keys may be
configured at once: the first encrypts, all decrypt, so a key is rotated by
putting a new one first and re-encrypting (``loans admin rotate-data-key``).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.config import Settings, get_settings

log = logging.getLogger(__name__)
_BLOCK = 64  # SHA-256's block size, in bytes


def _development_key(purpose: str) -> str:
    digest = hashlib.sha256(f"loans development {purpose} key".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


class DataKeys:
    def __init__(self, encryption_keys: list[str], hash_key: str) -> None:
        if not encryption_keys:
            raise ValueError("at least one data encryption key is needed")
        self.fernet = MultiFernet([Fernet(key.strip().encode()) for key in encryption_keys])
        self.current = Fernet(encryption_keys[0].strip().encode())
        self.hash_key = hash_key.encode()
        # HMAC's keyed inner and outer hash states (RFC 2104), computed once:
        # a lookup hash then costs two hash copies instead of a key setup each
        # (bank files hash a million ID numbers).
        key = self.hash_key
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    @classmethod
    def from_settings(cls, settings: Settings) -> DataKeys:
        if settings.data_encryption_keys is None or settings.data_hash_key is None:
            log.warning(
                "LOANS_DATA_ENCRYPTION_KEYS/LOANS_DATA_HASH_KEY not set: using the "
                "development keys (never in production)"
            )
        keys = settings.data_encryption_keys or _development_key("encryption")
        hash_key = settings.data_hash_key or _development_key("hash")
        return cls([k for k in keys.split(",") if k.strip()], hash_key)

    def encrypt(self, data: bytes) -> bytes:
        return self.current.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self.fernet.decrypt(token)
        except InvalidToken:
            raise ValueError("undecryptable value: unknown data key or corrupt data") from None

    def rotate(self, token: bytes) -> bytes:
        """``token`` re-encrypted with the current key."""
        return self.fernet.rotate(token)

    def lookup_hash(self, value: str) -> str:
        """HMAC-SHA256 of ``value`` (hex): equal values, equal hashes; without
        the key it reveals nothing (ID numbers are too few to hash unkeyed)."""
        inner = self._inner.copy()
        inner.update(value.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


@lru_cache
def data_keys() -> DataKeys:
    return DataKeys.from_settings(get_settings())


def generate_key() -> str:
    """A new random key (for either setting)."""
    return Fernet.generate_key().decode()
