"""Signed webhook delivery against a local receiver that fails before it accepts."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from handoff.referrals.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    deliver,
    retry_after_seconds,
    sign,
    verify_signature,
)

SECRET = "delad-hemlighet"
PAYLOAD = {"referral_id": "r-1", "municipality": "2584", "summary": "Oro för en ungdom i Kiruna."}


@dataclass
class Receiver:
    """A recipient's endpoint: answers with ``failures`` first, then 202."""

    failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes, bool]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        valid = verify_signature(SECRET, headers.get(TIMESTAMP_HEADER), body, headers.get(SIGNATURE_HEADER))
        self.requests.append((headers, body, valid))
        if len(self.requests) <= len(self.failures):
            status, extra = self.failures[len(self.requests) - 1]
            return web.Response(status=status, headers=extra)
        if not valid:
            return web.Response(status=401)
        return web.json_response({"received": True}, status=202)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    rec.url = str(server.make_url("/hook"))
    try:
        yield rec
    finally:
        await server.close()


async def test_retried_until_the_receiver_answers_with_a_valid_signature(receiver: Receiver) -> None:
    receiver.failures = [(503, {}), (500, {}), (502, {})]
    result = await deliver(receiver.url, SECRET, PAYLOAD, "key-123", attempts=6, backoff=0.01)
    assert result.delivered and result.status == 202 and result.attempts == 4
    assert len(receiver.requests) == 4
    assert all(valid for _, _, valid in receiver.requests)  # the signature verifies on every attempt
    assert {h[IDEMPOTENCY_HEADER] for h, _, _ in receiver.requests} == {"key-123"}
    assert {body for _, body, _ in receiver.requests} == {receiver.requests[0][1]}
    headers, body, _ = receiver.requests[-1]
    assert json.loads(body) == PAYLOAD
    assert headers[SIGNATURE_HEADER].startswith("sha256=")
    assert headers["Content-Type"].startswith("application/json")


async def test_no_retry_on_400(receiver: Receiver) -> None:
    receiver.failures = [(400, {})]
    result = await deliver(receiver.url, SECRET, PAYLOAD, "key-400", attempts=5, backoff=0.01)
    assert not result.delivered and result.status == 400 and result.attempts == 1
    assert not result.retryable
    assert len(receiver.requests) == 1


async def test_gives_up_after_the_attempts(receiver: Receiver) -> None:
    receiver.failures = [(503, {})] * 10
    result = await deliver(receiver.url, SECRET, PAYLOAD, "key-503", attempts=3, backoff=0.01)
    assert not result.delivered and result.attempts == 3 and result.status == 503
    assert result.retryable and result.error == "HTTP 503"
    assert len(receiver.requests) == 3


async def test_429_honours_retry_after(receiver: Receiver) -> None:
    receiver.failures = [(429, {"Retry-After": "1"})]
    started = time.monotonic()
    result = await deliver(receiver.url, SECRET, PAYLOAD, "key-429", attempts=3, backoff=0.01)
    assert result.delivered and result.attempts == 2
    assert time.monotonic() - started >= 0.9  # waited as asked, not the 0.01 s back-off


async def test_exponential_backoff_between_attempts(receiver: Receiver) -> None:
    receiver.failures = [(500, {})] * 3
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    result = await deliver(receiver.url, SECRET, PAYLOAD, "k", attempts=4, backoff=0.5, sleep=record)
    assert result.delivered
    assert waits == [0.5, 1.0, 2.0]


async def test_connection_errors_are_retried(free_port: int) -> None:
    url = f"http://127.0.0.1:{free_port}/hook"  # nothing listens here
    result = await deliver(url, SECRET, PAYLOAD, "key-down", attempts=3, backoff=0.01, timeout=2)
    assert not result.delivered and result.attempts == 3 and result.status is None
    assert result.retryable and result.error


def test_verify_signature() -> None:
    body = b'{"a":1}'
    now = 1_800_000_000
    header = sign(SECRET, now, body)
    assert verify_signature(SECRET, str(now), body, header, 300, now=now + 10)
    assert not verify_signature("other-secret", str(now), body, header, 300, now=now)
    assert not verify_signature(SECRET, str(now), b'{"a":2}', header, 300, now=now)  # body changed
    assert not verify_signature(SECRET, str(now + 1), body, header, 300, now=now)  # timestamp changed
    assert not verify_signature(SECRET, str(now), body, header, 300, now=now + 301)  # too old: replay
    assert not verify_signature(SECRET, "yesterday", body, header, 300, now=now)
    assert not verify_signature(SECRET, str(now), body, None, 300, now=now)
    assert not verify_signature(SECRET, str(now), body, header.removeprefix("sha256="), 300, now=now)
    # during a secret rotation the sender may send two signatures
    both = f"{sign('old', now, body)},{header}"
    assert verify_signature(SECRET, str(now), body, both, 300, now=now)


def test_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"s", b"1700000000.hello", hashlib.sha256).hexdigest()
    assert sign("s", 1700000000, b"hello") == f"sha256={expected}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5.0), ("0", 0.0), (None, None), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value) == expected
