"""The provider's HTTP send API: one request per SMS (or per part), its fields named by the
configuration, retried on 429 and 5xx with back-off (``Retry-After`` honoured).

Nothing of a request or an answer is logged: both hold the person's number.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from gateway.channel import Backoff
from gateway.errors import TransientChannelError

log = logging.getLogger("bots.sms")

SEND_FIELDS: dict[str, str] = {"from": "from", "to": "to", "text": "message", "report_url": "whendelivered"}
"""Our name -> the provider's field of a send request (46elks' names); ``report_url`` or ``ref``
empty: not sent."""


class Refused(Exception):
    """The provider refused the message for good (a 4xx other than 429): why, without its data;
    ``failure`` says it in a word the console translates (``refused``, ``credentials``)."""

    def __init__(self, message: str, failure: str = "refused") -> None:
        super().__init__(message)
        self.failure = failure


@dataclass(frozen=True, slots=True)
class SendAPI:
    url: str
    auth: str
    """``basic`` (username, password), ``bearer`` (token) or ``none``."""
    username: str
    password: str
    token: str
    body: str
    """``form`` or ``json``."""
    fields: Mapping[str, str]
    extra: Mapping[str, Any]
    """Fixed fields sent with every request (e.g. Sinch's ``type``)."""
    id_field: str
    """Where the answer's JSON holds the provider's message id (dotted path; empty: none)."""
    attempts: int
    max_retry_after: float
    backoff_initial: float
    timeout: float

    def request(self, sender: str, to: str, text: str, report_url: str | None) -> dict[str, Any]:
        values = {"from": sender, "to": to, "text": text, "report_url": report_url}
        out = dict(self.extra)
        for ours, theirs in self.fields.items():
            value = values.get(ours)
            if theirs and value:
                out[theirs] = value
        return out

    def headers(self) -> dict[str, str]:
        if self.auth == "bearer":
            return {"Authorization": f"Bearer {self.token}"}
        if self.auth == "basic":
            pair = f"{self.username}:{self.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {}

    async def send(self, http: aiohttp.ClientSession, payload: Mapping[str, Any]) -> str | None:
        """Post one message; the provider's id.  Raises Refused (for good) or
        TransientChannelError (after the tries, or a wait longer than ``max_retry_after``)."""
        backoff = Backoff(initial=self.backoff_initial, maximum=self.max_retry_after)
        kwargs: dict[str, Any] = {"json": dict(payload)} if self.body == "json" else {"data": dict(payload)}
        reason = ""
        for attempt in range(1, self.attempts + 1):
            wait: float | None = None
            try:
                async with http.post(
                    self.url,
                    headers=self.headers(),
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                    **kwargs,
                ) as resp:
                    if 200 <= resp.status < 300:
                        return _message_id(await _json_or_none(resp), self.id_field)
                    if resp.status == 429 or resp.status >= 500:
                        reason = f"the SMS provider answered HTTP {resp.status}"
                        wait = retry_after(resp.headers.get("Retry-After"))
                    elif resp.status in (401, 403):
                        raise Refused(
                            f"the SMS provider refused our credentials (HTTP {resp.status})", "credentials"
                        )
                    else:
                        raise Refused(f"the SMS provider refused the message (HTTP {resp.status})")
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = f"the SMS provider could not be reached ({type(exc).__name__})"
            delay = backoff.next_delay() if wait is None else wait
            if attempt == self.attempts or delay > self.max_retry_after:
                raise TransientChannelError(reason, retry_after=wait)
            log.info("sms: send attempt %d failed (%s); again in %.1f s", attempt, reason, delay)
            await asyncio.sleep(delay)
        raise TransientChannelError(reason or "no attempt made")  # attempts < 1 (not configurable)


def retry_after(value: str | None) -> float | None:
    """Seconds of a ``Retry-After`` header (seconds or an HTTP date), None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


async def _json_or_none(resp: aiohttp.ClientResponse) -> Any:
    try:
        return await resp.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError, UnicodeDecodeError):
        return None


def _message_id(data: Any, path: str) -> str | None:
    if not path:
        return None
    for key in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return str(data) if isinstance(data, str | int) and not isinstance(data, bool) else None
