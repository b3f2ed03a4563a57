"""A running gateway with the web chat channel (SQLite, in-process broker) and a visitor helper
(``tests.harness``)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bots.webchat.adapter import WebchatAdapter
from gateway.config import Settings
from gateway.store.models import StaffUser
from tests.harness import SECURE, Running, make_settings, start

Frame = dict[str, Any]


class Visitor:
    """One browser tab's websocket, as the page's script would drive it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[Frame] = []
        self._unread: list[Frame] = []

    async def send(self, **frame: Any) -> None:
        await self.ws.send_str(json.dumps(frame))

    async def hello(self, resume: Frame | None = None, lang: str = "sv", **extra: Any) -> Frame:
        await self.send(type="hello", lang=lang, resume=resume, **extra)
        return await self.expect(lambda f: f["type"] == "welcome")

    async def _next(self, timeout: float) -> Frame | None:
        if self._unread:
            return self._unread.pop(0)
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            return None
        frame: dict[str, Any] = json.loads(msg.data)
        self.frames.append(frame)
        return frame

    async def expect(self, predicate: Callable[[Frame], bool], timeout: float = 5.0) -> Frame:
        """The next frame matching ``predicate``; frames skipped on the way stay readable by later calls."""
        skipped: list[Frame] = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching frame; got {skipped}")
                frame = await self._next(remaining)
                if frame is None:
                    raise AssertionError(f"socket closed; got {skipped}")
                if predicate(frame):
                    return frame
                skipped.append(frame)
        finally:
            self._unread = skipped + self._unread

    async def settle(self, quiet: float = 0.4) -> list[Frame]:
        """Every frame until the socket has been quiet for ``quiet`` seconds."""
        got, self._unread = self._unread, []
        while True:
            try:
                frame = await self._next(quiet)
            except TimeoutError:
                return got
            if frame is None:
                return got
            got.append(frame)

    async def write(self, text: str, client_id: str) -> Frame:
        await self.send(type="message", client_id=client_id, text=text)
        return await self.expect(lambda f: f["type"] in ("ack", "error") and f.get("client_id") == client_id)

    async def close(self) -> None:
        await self.ws.close()


class ChatGateway(Running):
    """The gateway with the web chat channel only; ``visitor`` opens a browser tab's socket."""

    @property
    def adapter(self) -> WebchatAdapter:
        adapter = self.adapters["webchat"]
        assert isinstance(adapter, WebchatAdapter)
        return adapter

    async def visitor(self, **headers: str) -> Visitor:
        return Visitor(await self.client.ws_connect("/chat/ws", headers=headers or None))

    async def user(self, name: str, role: str = "counsellor", capacity: int = 5, **kw: Any) -> StaffUser:
        return await super().user(name, role, capacity, **kw)


WEBCHAT_CONFIG = {"max_message_chars": 200, "messages_per_minute": 6, "max_sockets_per_conversation": 2}


def chat_settings(tmp_path: Path, db_url: str | None = None, **extra: Any) -> Settings:
    """SQLite (or ``db_url``), no channel from the configuration (the tests pass the web chat's
    adapter), the console as in production."""
    return make_settings(
        db_url or f"sqlite+aiosqlite:///{tmp_path / 'helpline.db'}",
        tmp_path,
        channels={"webchat": {"enabled": False}},
        **{**SECURE, **extra},
    )


async def start_gateway(
    tmp_path: Path, config: dict[str, Any], settings: Settings | None = None, triager: Any = None
) -> ChatGateway:
    settings = settings or chat_settings(tmp_path)
    adapter = WebchatAdapter(config, pseudonym_key=settings.pseudonym_key)
    return await start(settings, triager=triager, adapters=[adapter], cls=ChatGateway)


@pytest.fixture
async def chat(tmp_path: Path) -> AsyncIterator[ChatGateway]:
    gw = await start_gateway(tmp_path, dict(WEBCHAT_CONFIG))
    try:
        yield gw
    finally:
        await gw.close()
