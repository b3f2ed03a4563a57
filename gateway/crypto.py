"""Encryption of contact records (the raw address needed to answer) at rest."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gateway.errors import StoreError


class ContactCipher:
    """Fernet (AES-128-CBC + HMAC-SHA256) with a 32-byte key from configuration.

    After a rotation (``helpline keys rotate contact``) the earlier keys in ``previous`` still
    decrypt; only the current key encrypts.
    """

    def __init__(self, key: bytes, previous: Sequence[bytes] = ()) -> None:
        for k in (key, *previous):
            if len(k) != 32:
                raise ValueError("contact key must be 32 bytes")
        self._fernet = MultiFernet([Fernet(base64.urlsafe_b64encode(k)) for k in (key, *previous)])

    def encrypt(self, address: str) -> bytes:
        return self._fernet.encrypt(address.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken:
            raise StoreError("contact record cannot be decrypted with the configured key") from None

    def rotate(self, token: bytes) -> bytes:
        """The same address encrypted with the current key."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise StoreError("contact record cannot be decrypted with the configured keys") from None
