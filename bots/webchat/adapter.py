"""The web chat channel's adapter: page, widget and websocket on the gateway's own application
(the protocol and the identity of a visitor: :mod:`bots.webchat`)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from aiohttp import WSMsgType, web

from bots.webchat.handlers import WebchatHandlers
from bots.webchat.identity import Identity
from bots.webchat.page import ChatPage
from bots.webchat.session import Chat, close_without_hello
from gateway.channel import (
    AdapterState,
    ChannelKey,
    ChannelServices,
    Delivery,
    DeliveryStatus,
    Ingress,
    register_channel,
)
from gateway.envelope import ConversationId, Envelope
from gateway.sockets import close_all
from gateway.tasks import cancel_and_wait

log = logging.getLogger("bots.webchat")  # the name its records had before the split

QUEUE_REFRESH_DELAY = 0.5
TRY_AGAIN_LATER = 1013

DEFAULTS: dict[str, Any] = {
    "max_message_chars": 4000,
    "messages_per_minute": 20,
    "max_sockets_per_conversation": 4,
    "quick_exit_url": "https://www.google.com/",
    "title": "",
    "allowed_origins": [],
    "frame_ancestors": ["*"],
    "heartbeat_seconds": 25.0,
    "hello_timeout_seconds": 10.0,
    "max_sockets": 5000,
}


@register_channel
class WebchatAdapter(WebchatHandlers):
    """The web chat channel: page, widget and websocket on the gateway's own application."""

    name: ClassVar[str] = "webchat"
    delivers_by_events: ClassVar[bool] = True
    config_schema: ClassVar[Mapping[str, ChannelKey]] = {
        "max_message_chars": ChannelKey(int, default="limits.max_message_chars", doc="Longest message."),
        "messages_per_minute": ChannelKey(
            int, default="limits.messages_per_minute", doc="Messages per person and minute."
        ),
        "max_sockets_per_conversation": ChannelKey(
            int, default=DEFAULTS["max_sockets_per_conversation"], doc="Tabs one person may have open."
        ),
        "quick_exit_url": ChannelKey(str, default="webchat.quick_exit_url", doc="Quick-exit target."),
        "title": ChannelKey(str, default="the catalogue's title", doc="The page's title."),
        "allowed_origins": ChannelKey(list, default="webchat.allowed_origins", doc="Origins that may embed."),
        "frame_ancestors": ChannelKey(
            list, default=DEFAULTS["frame_ancestors"], doc="CSP frame-ancestors of the embeddable widget."
        ),
        "heartbeat_seconds": ChannelKey(float, default="webchat.heartbeat_seconds", doc="Ping interval."),
        "hello_timeout_seconds": ChannelKey(
            float, default="webchat.hello_timeout_seconds", doc="Seconds to say hello."
        ),
        "max_sockets": ChannelKey(int, default="webchat.max_sockets", doc="Sockets per process."),
    }

    @classmethod
    def section_defaults(cls, settings: Mapping[str, Any]) -> dict[str, Any]:
        """The top-level ``webchat`` and ``limits`` sections are the defaults of ``channels.webchat``."""
        limits = settings["limits"]
        return {
            **settings["webchat"],
            "max_message_chars": limits["max_message_chars"],
            "messages_per_minute": limits["messages_per_minute"],
        }

    def __init__(self, config: Mapping[str, Any] | None = None, pseudonym_key: bytes = b"\0" * 32) -> None:
        super().__init__({**DEFAULTS, **dict(config or {})})
        self._key = pseudonym_key
        self.identity = Identity(pseudonym_key, self.name)
        self.max_chars = max(1, int(self.config["max_message_chars"]))
        self.per_minute = max(1, int(self.config["messages_per_minute"]))
        self.max_sockets = max(1, int(self.config["max_sockets_per_conversation"]))
        self.heartbeat = max(0.1, float(self.config["heartbeat_seconds"]))
        self.hello_timeout = max(0.1, float(self.config["hello_timeout_seconds"]))
        self.max_process_sockets = max(1, int(self.config["max_sockets"]))
        self._services: ChannelServices | None = None
        self._ingress: Ingress | None = None
        self._subscription: Any = None
        self._refresher: asyncio.Task[None] | None = None
        self._queue_dirty: asyncio.Event | None = None
        self._chats: set[Chat] = set()
        self._by_conv: dict[str, set[Chat]] = {}
        self._by_address: dict[str, set[Chat]] = {}
        self.page = ChatPage(self.config, self.max_chars, DEFAULTS["quick_exit_url"])

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self, ingress: Ingress) -> None:
        self._ingress = ingress
        self._queue_dirty = asyncio.Event()
        self._subscription = await self.services.subscribe_events(self._on_event)
        self._refresher = asyncio.create_task(self._refresh_queue_positions(), name="webchat queue")
        self.set_state(AdapterState.CONNECTED)

    async def going_away(self) -> int:
        """Close every visitor socket at once with 1001: the page reconnects (to another process)
        and resumes by ``seq``; nothing acknowledged is lost, nothing unacknowledged was stored."""
        return await close_all([chat.ws for chat in self._chats])

    async def stop(self) -> None:
        self._ingress = None
        if self._subscription is not None:
            await self._subscription.cancel()
            self._subscription = None
        refresher, self._refresher = self._refresher, None
        await cancel_and_wait(refresher)
        await close_all([chat.ws for chat in self._chats])
        for chat in list(self._chats):
            await chat.stop()
        self.set_state(AdapterState.STOPPED)

    async def send(self, envelope: Envelope, address: str) -> Delivery:
        # The person receives it over the socket (fan-out event) or on resume (from the store).
        return Delivery(DeliveryStatus.QUEUED, channel_message_id=envelope.message_id)

    def health(self) -> dict[str, Any]:
        data = super().health()
        data["sockets"] = len(self._chats)
        return data

    # -- HTTP -----------------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        # web.route, not web.get: the app adds these with router.add_route, which takes no allow_head.
        return [
            web.route("GET", "/chat", self.page.page),
            web.route("GET", "/chat/ws", self._socket),
            web.route("GET", "/chat/static/{name}", self.page.static_file),
            web.route("GET", "/widget.js", self.page.widget),
        ]

    # -- websocket ------------------------------------------------------------------------------
    @property
    def max_frame(self) -> int:
        # JSON of the largest allowed message, escapes included, plus the envelope of the frame.
        return self.max_chars * 6 + 4096

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if not self.page.origin_ok(request):
            return web.Response(status=403, text="origin not allowed")
        if self._ingress is None:
            return web.Response(status=503, text="web chat is not running")
        # No permessage-deflate, although browsers offer it: a chat's frames are a few hundred bytes,
        # and each compressing socket holds its own zlib state (about 80 KiB more per idle visitor
        # measured with the benchmark's browser-like sockets) and deflates every frame.
        ws = web.WebSocketResponse(heartbeat=self.heartbeat, max_msg_size=self.max_frame, compress=False)
        await ws.prepare(request)
        if len(self._chats) >= self.max_process_sockets:
            log.warning(
                "webchat: socket refused, this process has its maximum of %d", self.max_process_sockets
            )
            await ws.close(code=TRY_AGAIN_LATER, message=b"try again later")
            return ws
        chat = Chat(self, ws, request.transport)
        self._chats.add(chat)
        chat.start()
        no_hello = asyncio.get_running_loop().call_later(self.hello_timeout, close_without_hello, chat)
        try:
            await self._serve(chat)
        finally:
            no_hello.cancel()
            self._forget(chat)
            await chat.finish()
            if not ws.closed:
                await ws.close()
        return ws

    async def _serve(self, chat: Chat) -> None:
        async for msg in chat.ws:
            if msg.type == WSMsgType.ERROR:
                break
            if msg.type != WSMsgType.TEXT:
                chat.error("invalid")
                continue
            try:
                frame = json.loads(msg.data)
            except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
                frame = None
            if not isinstance(frame, dict):
                chat.error("invalid")
                continue
            kind = frame.get("type")
            if not chat.ready:
                if kind != "hello":
                    chat.error("invalid")
                    continue
                if not await self._hello(chat, frame):
                    chat.put("close", 1008)
                    return
                continue
            if kind == "message":
                await self._on_message(chat, frame)
            elif kind in ("typing", "seen"):
                self._signal(chat, kind, frame)
            elif kind == "continue_later":
                await self._on_continue_later(chat)
            elif kind == "ping":
                chat.frame({"type": "pong"})
            else:
                chat.error("invalid")

    # -- events ---------------------------------------------------------------------------------
    async def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("topic") == "queue":
            if self._queue_dirty is not None:
                self._queue_dirty.set()
            return
        if event.get("kind") == "resync":
            for every in list(self._by_conv.values()):
                for chat in list(every):
                    chat.put("event", event)
            return
        chats = self._by_conv.get(str(event.get("conversation_id")))
        if chats:
            for chat in list(chats):
                chat.put("event", event)

    async def _refresh_queue_positions(self) -> None:
        """Queue positions move when any conversation ahead is claimed: refresh them, debounced."""
        assert self._queue_dirty is not None
        while True:
            await self._queue_dirty.wait()
            await asyncio.sleep(QUEUE_REFRESH_DELAY)
            self._queue_dirty.clear()
            for conv_id, chats in list(self._by_conv.items()):
                if not any(c.state == "queued" for c in chats):
                    continue
                try:
                    state = await self.services.conversation_state(ConversationId(conv_id))
                except Exception as exc:
                    log.warning("webchat: queue position not refreshed (%s)", type(exc).__name__)
                    break
                for chat in list(chats):
                    chat.put("status", state or {"state": "closed"})
