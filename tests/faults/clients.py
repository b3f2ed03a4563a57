"""The outside world of the fault test, speaking only the gateway's public protocols.

* :class:`ChatPerson`: a web chat page as ``chat.js`` drives it: hello, messages with client ids
  that stay pending until acknowledged, resent with the same id after an ``unavailable`` answer or
  a reconnect, resume by conversation, token and ``last_seq``; it records every frame.
* :class:`TelegramPerson`: someone writing to the bot (updates queued at the Bot API stand-in).
* :class:`ConsoleUser`: a counsellor who signs in through the login form, keeps the console's live
  socket open (reconnecting to whichever process answers), and claims and replies through the JSON
  API with an ``Idempotency-Key`` per reply, resent with the same key until it is answered.

Every client connects from 127.0.0.2 (loopback too), so that the address the gateway sees is one no
log line could contain for another reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.harness import Browser

CLIENT_IP = "127.0.0.2"
Frame = dict[str, Any]


def client_session(**kw: Any) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(local_addr=(CLIENT_IP, 0), force_close=True)
    return aiohttp.ClientSession(connector=connector, **kw)


class ChatPerson:
    def __init__(self, name: str, http: aiohttp.ClientSession, urls: Callable[[], list[str]]) -> None:
        self.name = name
        self.http = http
        self.urls = urls  # the processes to try, preferred first
        self.conv: str | None = None
        self.token: str | None = None
        self.last_seq = 0
        self.pending: dict[str, str] = {}  # client id -> text, until acknowledged
        self.sent: dict[str, str] = {}  # every client id -> text
        self.acked: dict[str, str] = {}  # client id -> message id
        self.shown: list[Frame] = []  # every "message" frame, from every socket
        self.seqs_by_socket: list[list[int]] = []
        self.errors: list[Frame] = []
        self.connects = 0
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._resends: set[asyncio.Task[None]] = set()

    @property
    def secret(self) -> str | None:
        """The conversation's root secret (the first part of the page's token)."""
        return self.token.split(".", 1)[0] if self.token else None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"chat {self.name}")

    async def stop(self) -> None:
        self._stopping = True
        for task in self._resends:
            task.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def write(self, text: str) -> str:
        client_id = uuid.uuid4().hex
        self.pending[client_id] = text
        self.sent[client_id] = text
        await self._send({"type": "message", "client_id": client_id, "text": text})
        return client_id

    async def wait_acked(self, client_id: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while client_id not in self.acked:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{self.name}: {client_id} never acknowledged"
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))

    async def _send(self, frame: Frame) -> None:
        ws = self.ws
        if ws is None or ws.closed:
            return  # resent after the next welcome
        with contextlib.suppress(ConnectionError, RuntimeError, aiohttp.ClientError):
            await ws.send_str(json.dumps(frame))

    async def _resend_pending(self) -> None:
        for client_id, text in list(self.pending.items()):
            await self._send({"type": "message", "client_id": client_id, "text": text})

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            urls = self.urls()
            url = urls[attempt % len(urls)]
            try:
                ws = await self.http.ws_connect(f"{url}/chat/ws", timeout=aiohttp.ClientWSTimeout(ws_close=2))
            except (aiohttp.ClientError, OSError, TimeoutError):
                attempt += 1
                await asyncio.sleep(min(1.0, 0.1 * attempt) * random.uniform(0.8, 1.2))
                continue
            self.ws = ws
            self.connects += 1
            seqs: list[int] = []
            self.seqs_by_socket.append(seqs)
            resume = (
                {"conversation_id": self.conv, "token": self.token, "last_seq": self.last_seq}
                if self.token
                else None
            )
            await self._send({"type": "hello", "lang": "sv", "resume": resume, "pending": list(self.pending)})
            welcomed = False
            try:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    frame = json.loads(msg.data)
                    if frame["type"] == "welcome" and not welcomed:
                        welcomed = True
                        attempt = 0
                        self._welcome(frame)
                        await self._resend_pending()
                    else:
                        await self._frame(frame, seqs)
                    self._changed.set()
            except (aiohttp.ClientError, ConnectionError, RuntimeError):
                pass
            self.ws = None
            attempt += 1
            if not self._stopping:
                await asyncio.sleep(0.2 * random.uniform(0.8, 1.2))

    def _welcome(self, frame: Frame) -> None:
        if self.conv and frame.get("conversation_id") and frame["conversation_id"] != self.conv:
            self.last_seq = 0
        if frame.get("conversation_id"):
            self.conv = frame["conversation_id"]
        self.token = frame.get("token") or self.token

    async def _frame(self, frame: Frame, seqs: list[int]) -> None:
        kind = frame["type"]
        if kind == "welcome":
            self._welcome(frame)
        elif kind == "message":
            self.shown.append(frame)
            seqs.append(int(frame["seq"]))
            self.last_seq = max(self.last_seq, int(frame["seq"]))
        elif kind == "ack":
            client_id = frame["client_id"]
            self.pending.pop(client_id, None)
            self.acked.setdefault(client_id, frame["id"])
            if isinstance(frame.get("seq"), int):
                self.last_seq = max(self.last_seq, frame["seq"])
        elif kind == "error":
            self.errors.append(frame)
            if frame.get("code") == "unavailable" and frame.get("client_id") in self.pending:
                # The store is away: resend after a moment, with the same client id (chat.js).
                self._resends.add(asyncio.create_task(self._resend_later(frame["client_id"])))

    async def _resend_later(self, client_id: str) -> None:
        await asyncio.sleep(random.uniform(0.3, 0.8))
        if client_id in self.pending:
            await self._send({"type": "message", "client_id": client_id, "text": self.pending[client_id]})


@dataclass
class TelegramPerson:
    chat_id: int
    username: str
    first_name: str
    last_name: str
    updates: dict[int, str] = field(default_factory=dict)  # update id -> text

    def who(self) -> dict[str, Any]:
        return {"username": self.username, "first_name": self.first_name, "last_name": self.last_name}


class ConsoleUser:
    """A counsellor at the console, as its scripts drive it."""

    def __init__(self, name: str, password: str, urls: Callable[[], list[str]]) -> None:
        self.name = name
        self.password = password
        self.urls = urls
        self.http = client_session(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""
        self.frames: list[Frame] = []
        self.connects = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.last_error = ""

    @property
    def alerts(self) -> list[Frame]:
        return [f for f in self.frames if f.get("type") == "alert"]

    async def login(self) -> None:
        # As staff sign in (a supervisor enrols a second factor first): the harness's login.
        browser = Browser(self.urls()[0], self.http)
        resp = await browser.login(self.name, self.password)
        assert resp.status == 303, resp.status
        assert browser.csrf, "the console page carries its CSRF token"
        self.csrf = browser.csrf

    def watch(self) -> None:
        self._task = asyncio.create_task(self._live(), name=f"console {self.name}")

    async def close(self) -> None:
        self._stopping = True
        if self.ws is not None:
            await self.ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.http.close()

    async def _live(self) -> None:
        attempt = 0
        while not self._stopping:
            urls = self.urls()
            url = urls[attempt % len(urls)]
            try:
                # A browser names the page's origin; the console refuses sockets from elsewhere.
                ws = await self.http.ws_connect(f"{url}/console/ws", headers={"Origin": url})
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                self.last_error = repr(exc)
                attempt += 1
                await asyncio.sleep(min(1.0, 0.1 * attempt))
                continue
            self.ws = ws
            self.connects += 1
            try:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    frame = json.loads(msg.data)
                    frame["_socket"] = self.connects
                    frame["_at"] = time.monotonic()
                    self.frames.append(frame)
            except (aiohttp.ClientError, ConnectionError, RuntimeError):
                pass
            self.ws = None
            attempt += 1
            await asyncio.sleep(0.2)

    async def call(
        self, method: str, path: str, body: Any = None, *, key: str | None = None, deadline: float = 60.0
    ) -> tuple[int, Any]:
        """One API action, resent (with the same idempotency key) while a process or the store is
        away, as ``HL.apiAction`` does; the final status and JSON body."""
        headers = {"X-CSRF-Token": self.csrf}
        if key is not None:
            headers["Idempotency-Key"] = key
        until = time.monotonic() + deadline
        attempt = 0
        while True:
            urls = self.urls()
            url = urls[attempt % len(urls)]
            attempt += 1
            try:
                async with self.http.request(
                    method,
                    f"{url}{path}",
                    json=body,
                    headers=headers,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=15),
                ) as resp:
                    status = resp.status
                    data = await resp.json() if resp.content_type == "application/json" else None
                if status < 500 and not (status == 409 and (data or {}).get("error") == "in_progress"):
                    return status, data
            except (aiohttp.ClientError, OSError, TimeoutError):
                pass
            if time.monotonic() > until:
                raise AssertionError(f"{method} {path} not answered within {deadline} s")
            await asyncio.sleep(min(2.0, 0.2 * attempt) * random.uniform(0.8, 1.2))
