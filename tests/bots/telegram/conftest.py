"""Fixtures for the Telegram adapter: the Bot API stand-in, a recording ingress, a running channel."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from bots.telegram.adapter import WEBHOOK_PATH, TelegramAdapter
from gateway.channel import CONTROL_END, AdapterState, IngressResult
from gateway.envelope import ConversationId, Envelope, MessageId, Priority
from gateway.errors import InvalidInput
from tests.bots.telegram.fake_bot_api import FakeBotAPI

PSEUDONYM_KEY = b"telegram-test-pseudonym-key-0123456789"
WEBHOOK_SECRET = "s3cret_Token-for-tests"


class RecordingIngress:
    """A small but real ingress: keeps envelopes, answers IngressResult, dedupes on external_id and,
    like the pipeline, refuses (InvalidInput) an "end" without an open conversation and empty text.

    ``fail_times`` makes the next calls raise (the store is down); ``gate`` holds calls until set.
    """

    def __init__(self) -> None:
        self.received: list[tuple[Envelope, str]] = []
        self.calls = 0
        self.fail_times = 0
        self.gate: asyncio.Event | None = None
        self._seen: dict[str, MessageId] = {}
        self.open: set[str] = set()
        self.refused: list[tuple[Envelope, str]] = []
        self._changed = asyncio.Condition()

    async def __call__(self, envelope: Envelope, address: str) -> IngressResult:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_times > 0:
            self.fail_times -= 1
            raise ConnectionError("store unavailable")
        if envelope.meta.get("control") == CONTROL_END:
            if envelope.sender not in self.open:
                self.refused.append((envelope, address))
                raise InvalidInput("no open conversation")
            self.open.discard(envelope.sender)
        elif not envelope.text.strip():
            self.refused.append((envelope, address))
            raise InvalidInput("empty message")
        else:
            self.open.add(envelope.sender)
        key = f"{envelope.sender}:{envelope.external_id}"
        duplicate = key in self._seen
        if not duplicate:
            self._seen[key] = envelope.message_id
            self.received.append((envelope, address))
        async with self._changed:
            self._changed.notify_all()
        return IngressResult(
            conversation_id=ConversationId("c-" + envelope.sender[:8]),
            message_id=self._seen[key],
            duplicate=duplicate,
            priority=Priority.NORMAL,
            state="bot",
        )

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.received) >= count)

    @property
    def envelopes(self) -> list[Envelope]:
        return [e for e, _ in self.received]


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    server = FakeBotAPI()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def ingress() -> RecordingIngress:
    return RecordingIngress()


def adapter_config(api: FakeBotAPI, mode: str = "polling", **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"token": api.token, "mode": mode, "base_url": api.base_url, "poll_timeout": 2}
    config.update(extra)
    return config


def make_adapter(api: FakeBotAPI, mode: str = "polling", **extra: Any) -> TelegramAdapter:
    kwargs = {k: extra.pop(k) for k in ("send_attempts", "max_retry_after", "backoff_initial") if k in extra}
    kwargs.setdefault("backoff_initial", 0.05)
    return TelegramAdapter(adapter_config(api, mode, **extra), PSEUDONYM_KEY, **kwargs)


async def wait_state(adapter: TelegramAdapter, state: AdapterState, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while adapter.state() != state:
            await asyncio.sleep(0.01)


@dataclass
class Channel:
    """A started adapter in one mode, and a way to hand it an update as Telegram would."""

    mode: str
    adapter: TelegramAdapter
    api: FakeBotAPI
    ingress: RecordingIngress
    deliver: Callable[[dict[str, Any] | bytes], Coroutine[Any, Any, int]]
    session: ClientSession
    webhook_base: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(params=["webhook", "polling"])
async def channel(
    request: pytest.FixtureRequest, api: FakeBotAPI, ingress: RecordingIngress
) -> AsyncIterator[Channel]:
    mode = request.param
    async with ClientSession() as session:
        if mode == "webhook":
            app = web.Application()
            server = TestServer(app, host="127.0.0.1")
            # The route must exist before the server starts: build the adapter first.
            adapter = make_adapter(
                api,
                "webhook",
                webhook_url="http://placeholder.invalid" + WEBHOOK_PATH,
                webhook_secret=WEBHOOK_SECRET,
            )
            app.add_routes(adapter.routes())
            await server.start_server()
            adapter.config["webhook_url"] = str(server.make_url(WEBHOOK_PATH))

            async def deliver(update: dict[str, Any] | bytes) -> int:
                return await api.deliver_webhook(session, update)

            await adapter.start(ingress)
            await wait_state(adapter, AdapterState.CONNECTED)
            try:
                yield Channel(mode, adapter, api, ingress, deliver, session, str(server.make_url("")))
            finally:
                await adapter.stop()
                await server.close()
        else:
            adapter = make_adapter(api, "polling")

            async def deliver(update: dict[str, Any] | bytes) -> int:
                assert isinstance(update, dict)
                await api.push_update(update)
                return 200

            await adapter.start(ingress)
            await wait_state(adapter, AdapterState.CONNECTED)
            try:
                yield Channel(mode, adapter, api, ingress, deliver, session)
            finally:
                await adapter.stop()


@pytest.fixture
def chat_id() -> int:
    return 100_000_000 + uuid.uuid4().int % 800_000_000
