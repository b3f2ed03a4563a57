"""Encryption of contact records (the raw address needed to answer) at rest."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken

from gateway.errors import StoreError


class ContactCipher:
    """Fernet (AES-128-CBC + HMAC-SHA256) with a 32-byte key from configuration."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("contact key must be 32 bytes")
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, address: str) -> bytes:
        return self._fernet.encrypt(address.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken:
            raise StoreError("contact record cannot be decrypted with the configured key") from None
