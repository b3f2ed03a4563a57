"""A local SMS provider speaking the HTTP API the SMS channel is configured for, both ways.

It receives our sends (``POST /a1/sms``, form-encoded, 46elks' field names, HTTP basic auth) and
answers them as scripted (``script``: a list of ``(status, headers)`` used up one per request,
then 200 with ``{"id": ...}``); after an accepted send it posts a delivery report (``report``:
``"delivered"``, ``"failed"`` or None) to the report URL the message carried.  It posts incoming
messages to our webhook the way the provider does (form or JSON, basic auth or an HMAC
signature), and can redeliver until the gateway answers 2xx.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bots.sms.webhook import sign

USER, PASSWORD = "u4f1e2", "provider-pass-123"
"""The credentials we send with (the provider's API user)."""
HOOK_USER, HOOK_PASSWORD = "elks", "webhook-pass-456"
"""The credentials the provider calls our webhook with."""
HMAC_SECRET = "shared-secret-0123456789abcdef"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Received:
    fields: dict[str, str]
    time: float
    status: int
    authorized: bool


@dataclass
class FakeProvider:
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    report: str | None = "delivered"
    report_reason: str = ""
    requests: list[Received] = field(default_factory=list)
    reports: list[int] = field(default_factory=list)
    """Our webhook's answers to the delivery reports posted."""
    delay: float = 0.0
    """Seconds each send request takes (two processes racing for one message)."""
    report_first: bool = False
    """Post the delivery report before answering the send (an operator quicker than its API)."""
    _runner: web.AppRunner | None = None
    port: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def send_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/a1/sms"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/a1/sms", self._send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    # -- our sends ------------------------------------------------------------------------

    async def _send(self, request: web.Request) -> web.Response:
        expected = basic(USER, PASSWORD)
        authorized = request.headers.get("Authorization") == expected
        form = {k: str(v) for k, v in (await request.post()).items()}
        if self.delay:
            await asyncio.sleep(self.delay)
        if not authorized:
            self.requests.append(Received(form, time.monotonic(), 401, False))
            return web.json_response({"error": "unauthorized"}, status=401)
        status, headers = self.script.pop(0) if self.script else (200, {})
        self.requests.append(Received(form, time.monotonic(), status, True))
        if status != 200:
            return web.json_response({"error": "scripted"}, status=status, headers=headers)
        provider_id = "s" + uuid.uuid4().hex
        if self.report and form.get("whendelivered") and self.report_first:
            await self._post_report(form["whendelivered"], provider_id, self.report, wait=0.0)
        elif self.report and form.get("whendelivered"):
            task = asyncio.create_task(self._post_report(form["whendelivered"], provider_id, self.report))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.json_response({"id": provider_id, "status": "created", "parts": 1})

    async def _post_report(self, url: str, provider_id: str, status: str, wait: float = 0.05) -> None:
        await asyncio.sleep(wait)
        body = {"id": provider_id, "status": status, "delivered": "2026-12-04T10:00:00"}
        if status == "failed" and self.report_reason:
            body["error"] = self.report_reason
        async with aiohttp.ClientSession() as http:
            async with http.post(
                url, data=body, headers={"Authorization": basic(HOOK_USER, HOOK_PASSWORD)}
            ) as resp:
                self.reports.append(resp.status)

    def sent(self, to: str | None = None) -> list[dict[str, str]]:
        """The accepted sends (to ``to``), in order."""
        return [
            r.fields for r in self.requests if r.status == 200 and (to is None or r.fields.get("to") == to)
        ]

    def texts(self, to: str) -> list[str]:
        return [f["message"] for f in self.sent(to)]

    async def wait_for(self, check: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout} s; requests: {len(self.requests)}")
            await asyncio.sleep(0.05)

    # -- to our webhook -----------------------------------------------------------------------


def inbound(
    sender: str, text: str, *, to: str = "+46766861004", provider_id: str | None = None
) -> dict[str, str]:
    """An incoming SMS as 46elks posts it."""
    return {
        "id": provider_id or "s" + uuid.uuid4().hex,
        "from": sender,
        "to": to,
        "message": text,
        "created": "2026-12-04T10:20:28.123456",
    }


async def post(
    http: aiohttp.ClientSession,
    url: str,
    body: dict[str, Any],
    *,
    as_json: bool = False,
    auth: str = "basic",
    user: str = HOOK_USER,
    password: str = HOOK_PASSWORD,
    secret: str = HMAC_SECRET,
    stamp: int | None = None,
) -> tuple[int, Any]:
    """Post to our webhook as the provider does; the status and the JSON answer."""
    raw = json.dumps(body).encode() if as_json else urlencode(body).encode()
    headers = {"Content-Type": "application/json" if as_json else "application/x-www-form-urlencoded"}
    if auth == "basic":
        headers["Authorization"] = basic(user, password)
    elif auth == "hmac":
        ts = str(int(time.time()) if stamp is None else stamp)
        headers["X-Timestamp"] = ts
        headers["X-Signature"] = sign(secret, ts, raw)
    async with http.post(url, data=raw, headers=headers) as resp:
        try:
            answer = await resp.json(content_type=None)
        except ValueError:
            answer = await resp.text()
        return resp.status, answer


async def deliver_until_taken(
    http: aiohttp.ClientSession, url: str, body: dict[str, Any], *, every: float = 0.3, timeout: float = 30.0
) -> list[int]:
    """Post until the gateway answers 2xx, as a provider redelivers; every status it answered."""
    statuses: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        status, _ = await post(http, url, body)
        statuses.append(status)
        if 200 <= status < 300 or time.monotonic() > deadline:
            return statuses
        await asyncio.sleep(every)
