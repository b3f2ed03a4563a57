"""Who writes in, without knowing who: a random secret per conversation, and what the server
derives from it with keys made from the pseudonym key (the address, the pseudonym, the token, the
message ids; see :mod:`bots.webchat`)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from gateway.envelope import Pseudonym, pseudonymize

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
CODE_LENGTH = 16
CONV_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def _subkey(key: bytes, label: str) -> bytes:
    return hmac.new(key, f"webchat:{label}".encode(), hashlib.sha256).digest()


def new_secret() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(code: str) -> str | None:
    """A resume code as typed (any case, dashes, spaces, O for 0, I/L for 1) -> the secret, or None."""
    cleaned = re.sub(r"[\s-]", "", code).upper().translate(str.maketrans("OIL", "011"))
    if len(cleaned) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in cleaned):
        return None
    return cleaned


def format_code(secret: str) -> str:
    return "-".join(secret[i : i + 4] for i in range(0, len(secret), 4))


class Identity:
    """The keys of one adapter, and what they derive from a person's secret."""

    def __init__(self, pseudonym_key: bytes, name: str) -> None:
        self._key = pseudonym_key
        self.name = name
        self._k_address = _subkey(pseudonym_key, "address")
        self._k_token = _subkey(pseudonym_key, "token")
        self._k_message = _subkey(pseudonym_key, "message")

    def address_of(self, secret: str) -> str:
        return hmac.new(self._k_address, secret.encode(), hashlib.sha256).hexdigest()[:32]

    def pseudonym_of(self, secret: str) -> Pseudonym:
        return pseudonymize(self._key, self.name, self.address_of(secret))

    def message_id(self, address: str, client_id: str) -> str:
        return hmac.new(self._k_message, f"{address}|{client_id}".encode(), hashlib.sha256).hexdigest()[:32]

    def token(self, secret: str, conversation_id: str | None) -> str:
        conv = conversation_id or ""
        mac = hmac.new(self._k_token, f"{secret}|{conv}".encode(), hashlib.sha256).hexdigest()[:32]
        return f"{secret}.{conv}.{mac}"

    def verify_token(self, token: Any) -> tuple[str, str | None] | None:
        if not isinstance(token, str) or len(token) > 100:
            return None
        parts = token.split(".")
        if len(parts) != 3:
            return None
        secret, conv, _ = parts
        if normalize_code(secret) != secret or (conv and not CONV_ID_RE.fullmatch(conv)):
            return None
        if not hmac.compare_digest(self.token(secret, conv or None), token):
            return None
        return secret, conv or None
