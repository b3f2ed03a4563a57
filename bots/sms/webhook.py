"""What the provider posts to us: its authentication, an incoming SMS, a delivery report.

Both come form-encoded or as JSON (by ``Content-Type``), their fields named by the configuration.
The authentication is HTTP basic (``webhook_auth: basic``) or an HMAC-SHA256 signature of
``<timestamp>.<body>`` in a header, with the timestamp in another (``webhook_auth: hmac``; a
timestamp more than ``webhook_max_skew`` seconds away is refused, so a captured call cannot be
replayed later; within the window a replay is the same provider id, stored once).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import phonenumbers

INBOUND_FIELDS: dict[str, str] = {
    "id": "id",
    "from": "from",
    "to": "to",
    "text": "message",
    "time": "created",
}
"""Our name -> the provider's field of an incoming SMS (46elks' names)."""
REPORT_FIELDS: dict[str, str] = {"id": "id", "status": "status", "ref": "ref", "reason": "error"}
"""Our name -> the provider's field of a delivery report (46elks' names; ``ref`` is also read from
the query string of the report URL we gave with the message)."""
DELIVERED = ("delivered",)
FAILED = ("failed", "undelivered", "rejected", "expired")


class BadRequest(Exception):
    """The call cannot be taken: the reason, which names no number and no text."""


@dataclass(frozen=True, slots=True)
class WebhookAuth:
    scheme: str
    """``basic`` or ``hmac``."""
    username: str = ""
    password: str = ""
    secret: str = ""
    signature_header: str = "X-Signature"
    timestamp_header: str = "X-Timestamp"
    max_skew: float = 300.0

    def check(self, headers: Mapping[str, str], body: bytes, now: float | None = None) -> bool:
        if self.scheme == "basic":
            return self._basic(headers.get("Authorization", ""))
        return self._hmac(headers, body, time.time() if now is None else now)

    def _basic(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        ok_user = hmac.compare_digest(user.encode(), self.username.encode())
        ok_password = hmac.compare_digest(password.encode(), self.password.encode())
        return bool(sep) and ok_user and ok_password

    def _hmac(self, headers: Mapping[str, str], body: bytes, now: float) -> bool:
        stamp = headers.get(self.timestamp_header, "").strip()
        offered = headers.get(self.signature_header, "").strip().lower().removeprefix("sha256=")
        if not stamp.isdigit() or abs(now - int(stamp)) > self.max_skew:
            return False
        return hmac.compare_digest(offered.encode(), sign(self.secret, stamp, body).encode())


def sign(secret: str, stamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>`` with the shared secret."""
    return hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """A form-encoded or JSON body as a flat dict; BadRequest when it is neither."""
    try:
        if content_type == "application/json":
            data = json.loads(body)
            if not isinstance(data, dict):
                raise BadRequest("the JSON body is not an object")
            return data
        if content_type in ("application/x-www-form-urlencoded", ""):
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("the body cannot be read as " + (content_type or "a form")) from None
    raise BadRequest(f"unsupported content type {content_type}")


def field(data: Mapping[str, Any], name: str | None, *, required: str = "") -> str:
    """``data[name]`` as a string ('' when absent); BadRequest naming ``required`` when it must be there."""
    value = data.get(name) if name else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or (required and not value.strip()):
        if required:
            raise BadRequest(f"the field {name!r} ({required}) is missing or not text")
        return ""
    return value


def e164(raw: str, region: str) -> str:
    """A phone number in E.164 (``+46701234567``); BadRequest when it is not a possible number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise BadRequest("the sender is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise BadRequest("the sender is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_time(raw: str) -> datetime | None:
    """An ISO 8601 time (``2026-12-04 10:20:28.123`` taken as UTC) or seconds since the epoch."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        if raw.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(raw), UTC)
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
