"""Signed webhook delivery of handoffs, and signature verification for receivers.

A delivery is a ``POST`` of a JSON body with three headers:

- ``X-Helpline-Timestamp``: Unix time (seconds) when the attempt was signed;
- ``X-Helpline-Signature``: ``sha256=<hex>``, the HMAC-SHA256 with the shared secret over
  ``"<timestamp>.<body>"``;
- ``Idempotency-Key``: the same on every attempt of one delivery, so the receiver can drop
  duplicates.

Receivers check a request with :func:`verify_signature`.  :func:`deliver` retries with exponential
back-off on connection errors, timeouts, 5xx and 429 (honouring ``Retry-After``) and stops at once
on any other 4xx.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

SIGNATURE_HEADER = "X-Helpline-Signature"
TIMESTAMP_HEADER = "X-Helpline-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE = 300.0
"""Seconds a signed timestamp may differ from the receiver's clock."""


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def _bytes(body: str | bytes) -> bytes:
    return body.encode() if isinstance(body, str) else body


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """The JSON body of a delivery (UTF-8, keys sorted, compact)."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sign(secret: str | bytes, timestamp: str | int, body: str | bytes) -> str:
    """The signature header value: ``sha256=`` + hex HMAC-SHA256 over ``"<timestamp>.<body>"``."""
    message = str(timestamp).encode() + b"." + _bytes(body)
    return SIGNATURE_PREFIX + hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str | bytes, body: bytes, idempotency_key: str, *, timestamp: int | None = None
) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json; charset=utf-8",
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: sign(secret, ts, body),
        IDEMPOTENCY_HEADER: idempotency_key,
    }


def verify_signature(
    secret: str | bytes,
    timestamp: str | None,
    body: str | bytes,
    header: str | None,
    tolerance: float = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> bool:
    """True if ``header`` is a valid signature of ``body`` at ``timestamp`` made with ``secret``.

    The timestamp must be within ``tolerance`` seconds of ``now`` (default: the clock), which stops
    replays of old requests.  The header may hold several comma-separated signatures (while a
    secret is being rotated); the comparison is constant-time.
    """
    if not timestamp or not header:
        return False
    try:
        ts = int(timestamp.strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        return False
    expected = sign(secret, ts, body).encode()
    ok = False
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate.startswith(SIGNATURE_PREFIX):
            # No early exit: every candidate is compared.
            ok |= hmac.compare_digest(candidate.encode(), expected)
    return ok


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """How a delivery ended."""

    delivered: bool
    attempts: int
    status: int | None
    """The last HTTP status, or None if the receiver never answered."""
    idempotency_key: str
    error: str | None = None
    """What went wrong on the last attempt, if it failed."""

    @property
    def retryable(self) -> bool:
        """Whether trying again later could succeed (not after a 4xx other than 429)."""
        if self.delivered:
            return False
        return self.status is None or self.status >= 500 or self.status == 429 or self.status == 408


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _retry_status(status: int) -> bool:
    return status >= 500 or status in (408, 429)


async def deliver(
    url: str,
    secret: str | bytes,
    payload: Mapping[str, Any],
    idempotency_key: str,
    *,
    attempts: int = 5,
    backoff: float = 1.0,
    max_backoff: float = 300.0,
    timeout: float = 10.0,
    session: aiohttp.ClientSession | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> DeliveryResult:
    """POST ``payload`` signed to ``url``; retry until a 2xx, a final 4xx or ``attempts`` are spent.

    The wait before attempt n+1 is ``backoff * 2**(n-1)`` seconds (at most ``max_backoff``), or the
    receiver's ``Retry-After`` when it gives one (also at most ``max_backoff``).  Each attempt is
    signed with a fresh timestamp; body and idempotency key stay the same.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    body = encode_payload(payload)
    own_session = session is None
    client = session if session is not None else aiohttp.ClientSession()
    status: int | None = None
    error: str | None = None
    made = 0
    try:
        for attempt in range(1, attempts + 1):
            made = attempt
            wait = min(max_backoff, backoff * 2 ** (attempt - 1))
            try:
                async with client.post(
                    url,
                    data=body,
                    headers=signed_headers(secret, body, idempotency_key),
                    timeout=aiohttp.ClientTimeout(total=timeout),
                    allow_redirects=False,
                ) as response:
                    status = response.status
                    await response.read()
                    if 200 <= status < 300:
                        return DeliveryResult(True, attempt, status, idempotency_key)
                    error = f"HTTP {status}"
                    if not _retry_status(status):
                        return DeliveryResult(False, attempt, status, idempotency_key, error)
                    hinted = retry_after_seconds(response.headers.get("Retry-After"))
                    if hinted is not None:
                        wait = min(max_backoff, hinted)
            except (aiohttp.ClientError, TimeoutError) as exc:
                status = None
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if attempt < attempts:
                await sleep(wait)
        return DeliveryResult(False, made, status, idempotency_key, error)
    finally:
        if own_session:
            await client.close()
