"""Anonymous web chat: the page ``/chat``, the embeddable ``/widget.js`` and the websocket ``/chat/ws``.

Nobody who writes in is identified.  The page sets no cookie and uses no storage unless the person
chooses "continue later"; no IP address or user agent is read, stored or logged.

Identity
--------
A conversation's root is a random *secret* of 16 Crockford base32 characters (80 bits) made by the
server on ``hello``.  From it, with keys derived from the pseudonym key:

* the *address* (what the pipeline keeps, encrypted, in the contact record) is an HMAC of the secret,
  so the contact record never holds a credential; the envelope sender is
  ``pseudonymize(key, "webchat", address)``;
* the *token* the page keeps in memory is ``secret.conversation_id.mac``: any process of a fleet can
  check it without shared state, and it binds the secret to the stored conversation;
* the *resume code* shown on "continue later" is the secret itself (``XXXX-XXXX-XXXX-XXXX``); its
  hash is registered with the conversation, so a code only works once the person asked for it and
  while the conversation is open.

Protocol (JSON text frames)
---------------------------
Client -> server::

    {"type": "hello", "lang": "sv"|"en",
     "resume": null | {"conversation_id", "token", "last_seq"} | {"code"},
     "pending": ["<client_id>", ...]}            # optional: messages sent but not acknowledged
    {"type": "message", "client_id": "<uuid>", "text": "..."}
    {"type": "typing", "typing": true|false}
    {"type": "seen", "seq": N}
    {"type": "continue_later"}
    {"type": "ping"}

Server -> client::

    {"type": "welcome", "conversation_id": str|null, "token"}   # again once the conversation exists
    {"type": "message", "seq", "kind": "person|bot|counsellor|system", "text", "id"}
    {"type": "ack", "client_id", "seq", "id"}
    {"type": "status", "state": "new|bot|queued|assigned|closed|...", "queue_position", "assigned"}
    {"type": "typing", "typing": bool}
    {"type": "closed"}
    {"type": "resume_code", "code"}
    {"type": "error", "code", "message", "client_id"?}
    {"type": "pong"}

Every message of the conversation reaches a socket exactly once and in ``seq`` order: live events
are conveyed when they continue the sequence, and any gap (a missed or reordered event, a resume
with ``last_seq``) is filled from the store.  A message's id is derived from the conversation's
address and the client's ``client_id``, so that a message re-sent after a reconnect is recognised
(acknowledged, not stored twice) and a replayed message the page still waits for is acknowledged
instead of shown a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import html
import json
import logging
import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from aiohttp import WSMsgType, web

from gateway.channel import (
    CONTROL_DELIVERED,
    CONTROL_PAUSED,
    CONTROL_TYPING,
    AdapterState,
    ChannelAdapter,
    ChannelServices,
    Delivery,
    DeliveryStatus,
    Ingress,
    register_channel,
)
from gateway.envelope import (
    ConversationId,
    Direction,
    Envelope,
    MessageId,
    Pseudonym,
    new_message_id,
    pseudonymize,
    utcnow,
)
from gateway.errors import DeadLettered, InvalidInput
from gateway.sockets import close_all
from gateway.tasks import cancel_and_wait

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("webchat_static")
STATIC_TYPES = {
    "chat.js": "application/javascript",
    "chat.css": "text/css",
}
LANGS = ("sv", "en")
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
CODE_LENGTH = 16
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
CONV_ID_RE = re.compile(r"^[0-9a-f]{32}$")
KINDS = ("person", "bot", "counsellor", "system")
MAX_PENDING = 50
RATE_WINDOW = 60.0
TYPING_REPEAT = 3.0
QUEUE_REFRESH_DELAY = 0.5
TRY_AGAIN_LATER = 1013
POLICY_VIOLATION = 1008
TYPING_BURST = 3  # typing signals a socket may pass on at once; then one per TYPING_INTERVAL
TYPING_INTERVAL = 2.0
SEND_QUEUE = 256  # frames and events waiting for one socket; a reader this far behind is disconnected

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

# Every string the person sees, in both languages.  The page embeds the whole table (as JSON data,
# not script) so that the language can be switched without reloading and losing the conversation.
STRINGS: dict[str, dict[str, str]] = {
    "sv": {
        "title": "Chatta med oss",
        "intro": "Här kan du skriva till oss anonymt. Vi frågar inte efter ditt namn och sparar ingen IP-adress.",
        "emergency": "Om någon är i akut fara: ring 112.",
        "lang_label": "Språk",
        "exit": "Lämna snabbt",
        "exit_hint": "Rensar chatten och går till en annan webbplats.",
        "log_label": "Meddelanden",
        "input_label": "Ditt meddelande",
        "input_hint": "Enter skickar, Skift+Enter ger ny rad.",
        "send": "Skicka",
        "chars_left": "{n} tecken kvar",
        "who_person": "Du",
        "who_bot": "Automatiskt svar",
        "who_counsellor": "Samtalsstödjare",
        "who_system": "Meddelande",
        "sending": "skickas…",
        "continue_later": "Fortsätt senare",
        "resume_code_intro": "Din kod för att fortsätta samtalet senare:",
        "resume_code_note": "Skriv ner koden. Den sparas också i den här webbläsaren tills du trycker på "
        "Lämna snabbt.",
        "resume_label": "Har du en kod? Fortsätt ett tidigare samtal",
        "resume_go": "Fortsätt",
        "new_conversation": "Starta ett nytt samtal",
        "status_connecting": "Ansluter…",
        "status_new": "Skriv ditt meddelande när du är redo.",
        "status_bot": "Du har fått ett automatiskt svar. Skriv gärna mer.",
        "status_queued": "Du väntar på en samtalsstödjare. Plats i kön: {n}",
        "status_queued_nopos": "Du väntar på en samtalsstödjare.",
        "status_assigned": "En samtalsstödjare har anslutit",
        "status_typing": "Samtalsstödjaren skriver…",
        "status_closed": "Samtalet är avslutat. Tack för att du hörde av dig.",
        "status_reconnecting": "Anslutningen bröts. Försöker igen…",
        "noscript": "Chatten behöver JavaScript.",
        "err_too_long": "Meddelandet är för långt. Det får vara högst {max} tecken.",
        "err_rate_limited": "Du har skickat många meddelanden på kort tid. Vänta en minut och försök igen.",
        "err_invalid": "Meddelandet kunde inte läsas. Försök igen.",
        "err_empty": "Skriv något innan du skickar.",
        "err_closed": "Samtalet är avslutat. Starta ett nytt samtal för att skriva igen.",
        "err_too_many_connections": "Samtalet är redan öppet i för många fönster. Stäng något av dem.",
        "err_resume_failed": "Koden gäller inte, eller så är samtalet redan avslutat.",
        "err_no_conversation": "Skriv ett meddelande först, så kan du få en kod.",
        "err_unavailable": "Meddelandet kunde inte skickas just nu. Vi försöker igen.",
        "err_not_stored": (
            "Meddelandet kunde inte tas emot och skickas inte igen. Skriv det gärna på nytt med andra ord."
        ),
    },
    "en": {
        "title": "Chat with us",
        "intro": "You can write to us anonymously here. We do not ask for your name and store no IP address.",
        "emergency": "If someone is in immediate danger: call 112.",
        "lang_label": "Language",
        "exit": "Quick exit",
        "exit_hint": "Clears the chat and goes to another website.",
        "log_label": "Messages",
        "input_label": "Your message",
        "input_hint": "Enter sends, Shift+Enter adds a new line.",
        "send": "Send",
        "chars_left": "{n} characters left",
        "who_person": "You",
        "who_bot": "Automatic reply",
        "who_counsellor": "Counsellor",
        "who_system": "Notice",
        "sending": "sending…",
        "continue_later": "Continue later",
        "resume_code_intro": "Your code to continue the conversation later:",
        "resume_code_note": "Write the code down. It is also kept in this browser until you press Quick exit.",
        "resume_label": "Have a code? Continue an earlier conversation",
        "resume_go": "Continue",
        "new_conversation": "Start a new conversation",
        "status_connecting": "Connecting…",
        "status_new": "Write your message when you are ready.",
        "status_bot": "You have received an automatic reply. Feel free to tell us more.",
        "status_queued": "You are waiting for a counsellor. Place in queue: {n}",
        "status_queued_nopos": "You are waiting for a counsellor.",
        "status_assigned": "A counsellor has joined",
        "status_typing": "The counsellor is typing…",
        "status_closed": "The conversation has ended. Thank you for getting in touch.",
        "status_reconnecting": "The connection was lost. Trying again…",
        "noscript": "The chat needs JavaScript.",
        "err_too_long": "The message is too long. It may be at most {max} characters.",
        "err_rate_limited": "You have sent many messages in a short time. Wait a minute and try again.",
        "err_invalid": "The message could not be read. Please try again.",
        "err_empty": "Write something before sending.",
        "err_closed": "The conversation has ended. Start a new conversation to write again.",
        "err_too_many_connections": "The conversation is open in too many windows. Close one of them.",
        "err_resume_failed": "The code is not valid, or the conversation has already ended.",
        "err_no_conversation": "Write a message first, then you can get a code.",
        "err_unavailable": "The message could not be sent right now. We will try again.",
        "err_not_stored": (
            "The message could not be received and will not be sent again. Please write it anew in other words."
        ),
    },
}


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


def _csp_sources(values: list[str]) -> str:
    ok = [v for v in values if isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9.:/*'_-]+", v)]
    return " ".join(ok) if ok else "'none'"


class _Chat:
    """One visitor socket.  Everything sent to it goes through one worker task, in order."""

    def __init__(
        self,
        adapter: WebchatAdapter,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None = None,
    ) -> None:
        self.adapter = adapter
        self.ws = ws
        self.transport = transport
        self.lang = "sv"
        self.ready = False
        self.secret = ""
        self.address = ""
        self.sender = Pseudonym("")
        self.conv_id: str | None = None
        self.upto = 0
        self.own: dict[str, str] = {}  # message id -> client_id, awaiting its ack
        self.id_seq: dict[str, int] = {}
        self.unseen: dict[int, str] = {}  # seq -> id of outgoing messages not yet seen
        self.last_status: tuple[Any, ...] | None = None
        self.state = "new"
        self.closed = False
        self.typing_on = False
        self.typing_at = 0.0
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(SEND_QUEUE)
        self.dropped = False
        self.hello_closer: asyncio.Task[int] | None = None
        self.typing_budget = TYPING_BURST
        self.typing_refill = 0.0
        self.task: asyncio.Task[None] | None = None

    # -- worker ---------------------------------------------------------------------------------
    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name="webchat socket")

    async def stop(self) -> None:
        await cancel_and_wait(self.task)

    async def finish(self, timeout: float = 1.0) -> None:
        """Let the worker send what is queued (errors, acks), then stop it."""
        if self.dropped or self.queue.full():
            await self.stop()
            return
        self.put("end")
        if self.task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self.task), timeout)
        await self.stop()

    def put(self, kind: str, data: Any = None) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait((kind, data))
        except asyncio.QueueFull:
            self.drop()

    def drop(self) -> None:
        """A reader this far behind (a client that does not read) is disconnected at once, not
        buffered for: its page reconnects and resumes by ``seq`` from the store."""
        self.dropped = True
        log.info("webchat: a socket that did not read its frames was disconnected")
        while not self.queue.empty():
            self.queue.get_nowait()
        if self.transport is not None:
            self.transport.abort()
        self.queue.put_nowait(("end", None))

    def frame(self, data: dict[str, Any]) -> None:
        self.put("frame", data)

    def error(self, code: str, client_id: str | None = None) -> None:
        text = STRINGS[self.lang].get(f"err_{code}", STRINGS[self.lang]["err_invalid"])
        data: dict[str, Any] = {
            "type": "error",
            "code": code,
            "message": text.replace("{max}", str(self.adapter.max_chars)),
        }
        if client_id is not None:
            data["client_id"] = client_id
        self.frame(data)

    async def _run(self) -> None:
        while True:
            kind, data = await self.queue.get()
            if kind == "end":
                return
            if self.ws.closed:
                continue
            try:
                await self._handle(kind, data)
            except asyncio.CancelledError:
                raise
            except (ConnectionError, RuntimeError):
                continue  # the socket went away; the store keeps everything for a resume
            except Exception as exc:
                log.warning("webchat: could not update a visitor socket (%s)", type(exc).__name__)

    async def _send(self, data: dict[str, Any]) -> None:
        if not self.ws.closed:
            await self.ws.send_str(json.dumps(data, ensure_ascii=False))

    async def _handle(self, kind: str, data: Any) -> None:
        if kind == "frame":
            await self._send(data)
        elif kind == "event":
            await self._event(data)
        elif kind == "catchup":
            await self._catch_up()
        elif kind == "ack":
            await self._ack(*data)
        elif kind == "status":
            await self._status(data)
        elif kind == "close":
            await self.ws.close(code=int(data))

    async def _event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("kind")
        if kind == "message":
            msg = event.get("message") or {}
            if msg.get("conversation_id") == self.conv_id:
                await self._convey(msg)
        elif kind == "state":
            conv = event.get("conversation") or {}
            state = str(conv.get("state", ""))
            if state == "queued":
                await self._status(None)
            else:
                await self._status({"state": state, "queue_position": None, "assigned": state == "assigned"})
        elif kind == "resync":  # the feed of events was interrupted: what the store has since upto
            await self._catch_up()
        elif kind == "typing" and event.get("who") == "counsellor":
            await self._send({"type": "typing", "typing": bool(event.get("typing"))})

    async def _convey(self, msg: Mapping[str, Any]) -> None:
        seq = int(msg["seq"])
        if seq <= self.upto:
            return
        if seq > self.upto + 1:
            await self._catch_up()
            return
        await self._emit(msg)

    async def _catch_up(self) -> None:
        if self.conv_id is None:
            return
        services = self.adapter.services
        for msg in await services.history(ConversationId(self.conv_id), after_seq=self.upto):
            if int(msg["seq"]) > self.upto:
                await self._emit(msg)

    async def _emit(self, msg: Mapping[str, Any]) -> None:
        seq, mid = int(msg["seq"]), str(msg["id"])
        self.upto = seq
        self.id_seq[mid] = seq
        client_id = self.own.pop(mid, None)
        if client_id is not None:
            await self._send({"type": "ack", "client_id": client_id, "seq": seq, "id": mid})
            return
        kind = str(msg.get("sender_kind", "system"))
        await self._send(
            {
                "type": "message",
                "seq": seq,
                "kind": kind if kind in KINDS else "system",
                "text": str(msg.get("text", "")),
                "id": mid,
            }
        )
        if msg.get("direction") == Direction.OUT.value:
            self.unseen[seq] = mid

    async def _ack(self, client_id: str, mid: str, seq: int | None = None) -> None:
        """Acknowledge the person's message ``mid``, stored at position ``seq``, in order."""
        if mid not in self.id_seq:
            if seq is not None and seq == self.upto + 1:
                # Stored next after everything this socket has: acknowledge it before its
                # fan-out event comes (which is then skipped as already shown).
                self.upto = seq
                self.id_seq[mid] = seq
            elif seq is None or seq > self.upto:
                await self._catch_up()
        known = self.id_seq.get(mid, seq)
        if known is None and self.conv_id is not None:
            # Stored before this socket's resume point (acknowledged to another socket already).
            for msg in await self.adapter.services.history(ConversationId(self.conv_id)):
                if msg["id"] == mid:
                    known = int(msg["seq"])
                    break
        self.own.pop(mid, None)
        await self._send({"type": "ack", "client_id": client_id, "seq": known, "id": mid})

    async def _status(self, data: Mapping[str, Any] | None) -> None:
        if data is None:
            if self.conv_id is None:
                data = {"state": "new"}
            else:
                data = await self.adapter.services.conversation_state(ConversationId(self.conv_id)) or {
                    "state": "closed"
                }
        state = str(data.get("state") or "new")
        if state == "documented":
            state = "closed"
        position = data.get("queue_position") if state == "queued" else None
        assigned = bool(data.get("assigned")) or state == "assigned"
        key = (state, position, assigned)
        self.state = state
        if key != self.last_status:
            self.last_status = key
            await self._send(
                {"type": "status", "state": state, "queue_position": position, "assigned": assigned}
            )
        if state == "closed" and not self.closed:
            self.closed = True
            await self._send({"type": "closed"})


def _close_without_hello(chat: _Chat) -> None:
    """A socket that never said hello holds a file descriptor for nothing: close it."""
    if not chat.ready and not chat.ws.closed:
        task = asyncio.create_task(close_all([chat.ws], code=POLICY_VIOLATION, message=b"no hello"))
        chat.hello_closer = task


@register_channel
class WebchatAdapter(ChannelAdapter):
    """The web chat channel: page, widget and websocket on the gateway's own application."""

    name: ClassVar[str] = "webchat"
    delivers_by_events: ClassVar[bool] = True
    config_schema: ClassVar[Mapping[str, tuple[type, bool]]] = {
        "max_message_chars": (int, False),
        "messages_per_minute": (int, False),
        "max_sockets_per_conversation": (int, False),
        "quick_exit_url": (str, False),
        "title": (str, False),
        "allowed_origins": (list, False),
        "frame_ancestors": (list, False),
        "heartbeat_seconds": (float, False),
        "hello_timeout_seconds": (float, False),
        "max_sockets": (int, False),
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
        self._k_address = _subkey(pseudonym_key, "address")
        self._k_token = _subkey(pseudonym_key, "token")
        self._k_message = _subkey(pseudonym_key, "message")
        self.max_chars = max(1, int(self.config["max_message_chars"]))
        self.per_minute = max(1, int(self.config["messages_per_minute"]))
        self.max_sockets = max(1, int(self.config["max_sockets_per_conversation"]))
        self.heartbeat = max(0.1, float(self.config["heartbeat_seconds"]))
        self.hello_timeout = max(0.1, float(self.config["hello_timeout_seconds"]))
        self.max_process_sockets = max(1, int(self.config["max_sockets"]))
        exit_url = str(self.config["quick_exit_url"])
        self.quick_exit_url = exit_url if re.match(r"^https?://", exit_url) else DEFAULTS["quick_exit_url"]
        self.allowed_origins = {str(o).rstrip("/") for o in self.config["allowed_origins"]}
        self._services: ChannelServices | None = None
        self._ingress: Ingress | None = None
        self._subscription: Any = None
        self._refresher: asyncio.Task[None] | None = None
        self._queue_dirty: asyncio.Event | None = None
        self._chats: set[_Chat] = set()
        self._by_conv: dict[str, set[_Chat]] = {}
        self._by_address: dict[str, set[_Chat]] = {}
        self._static = {name: (STATIC_DIR / name).read_bytes() for name in (*STATIC_TYPES, "widget.js")}
        self._template = (STATIC_DIR / "chat.html").read_text(encoding="utf-8")
        self._version = hashlib.sha256(b"".join(self._static.values())).hexdigest()[:12]

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def services(self) -> ChannelServices:
        if self._services is None:
            raise RuntimeError("webchat: attach() was not called")
        return self._services

    def attach(self, services: ChannelServices) -> None:
        self._services = services

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

    # -- identity -------------------------------------------------------------------------------
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

    # -- HTTP -----------------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        # web.route, not web.get: the app adds these with router.add_route, which takes no allow_head.
        return [
            web.route("GET", "/chat", self._page),
            web.route("GET", "/chat/ws", self._socket),
            web.route("GET", "/chat/static/{name}", self._static_file),
            web.route("GET", "/widget.js", self._widget),
        ]

    def _headers(self, request: web.Request, *, embed: bool) -> dict[str, str]:
        host = request.host if re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", request.host or "") else ""
        connect = f"'self' ws://{host} wss://{host}" if host else "'self'"
        ancestors = _csp_sources(list(self.config["frame_ancestors"])) if embed else "'none'"
        headers = {
            "Content-Security-Policy": (
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                f"connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'none'; "
                f"frame-ancestors {ancestors}"
            ),
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        }
        if not embed:
            headers["X-Frame-Options"] = "DENY"
            headers["Cross-Origin-Opener-Policy"] = "same-origin"
        return headers

    def render_page(self, lang: str, embed: bool) -> str:
        strings = STRINGS[lang]
        title = str(self.config["title"]) or strings["title"]
        i18n = json.dumps(STRINGS, ensure_ascii=False)
        i18n = i18n.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        values = {
            "lang": lang,
            "title": title,
            "version": self._version,
            "embed_class": "hl-embed" if embed else "",
            "quick_exit_url": self.quick_exit_url,
            "max_chars": str(self.max_chars),
            "custom_title": "1" if self.config["title"] else "",
        }

        def fill(match: re.Match[str]) -> str:
            key = match.group(1)
            if key == "i18n":
                return i18n
            if key.startswith("t:"):
                return html.escape(strings[key[2:]])
            if key == "custom_title_attr":
                return "" if self.config["title"] else ' data-i18n="title"'
            if key.startswith("sel:"):
                return " selected" if key[4:] == lang else ""
            return html.escape(values[key])

        return re.sub(r"\{\{([a-z_:0-9]+)\}\}", fill, self._template)

    async def _page(self, request: web.Request) -> web.Response:
        lang = request.query.get("lang", "sv")
        lang = lang if lang in LANGS else "sv"
        embed = request.query.get("embed") == "1"
        return web.Response(
            text=self.render_page(lang, embed),
            content_type="text/html",
            charset="utf-8",
            headers=self._headers(request, embed=embed),
        )

    async def _static_file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC_TYPES:
            raise web.HTTPNotFound()
        return web.Response(
            body=self._static[name],
            content_type=STATIC_TYPES[name],
            charset="utf-8",
            headers={
                "Cache-Control": "public, max-age=3600",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    async def _widget(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self._static["widget.js"],
            content_type="application/javascript",
            charset="utf-8",
            headers={
                "Cache-Control": "public, max-age=300",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cross-Origin-Resource-Policy": "cross-origin",
            },
        )

    def _origin_ok(self, request: web.Request) -> bool:
        if not self.allowed_origins:
            return True
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser: nothing ambient to protect (no cookies)
        origin = origin.rstrip("/")
        if origin in self.allowed_origins:
            return True
        return origin in (f"http://{request.host}", f"https://{request.host}")

    # -- websocket ------------------------------------------------------------------------------
    @property
    def max_frame(self) -> int:
        # JSON of the largest allowed message, escapes included, plus the envelope of the frame.
        return self.max_chars * 6 + 4096

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if not self._origin_ok(request):
            return web.Response(status=403, text="origin not allowed")
        if self._ingress is None:
            return web.Response(status=503, text="web chat is not running")
        ws = web.WebSocketResponse(heartbeat=self.heartbeat, max_msg_size=self.max_frame)
        await ws.prepare(request)
        if len(self._chats) >= self.max_process_sockets:
            log.warning(
                "webchat: socket refused, this process has its maximum of %d", self.max_process_sockets
            )
            await ws.close(code=TRY_AGAIN_LATER, message=b"try again later")
            return ws
        chat = _Chat(self, ws, request.transport)
        self._chats.add(chat)
        chat.start()
        no_hello = asyncio.get_running_loop().call_later(self.hello_timeout, _close_without_hello, chat)
        try:
            await self._serve(chat)
        finally:
            no_hello.cancel()
            self._forget(chat)
            await chat.finish()
            if not ws.closed:
                await ws.close()
        return ws

    async def _serve(self, chat: _Chat) -> None:
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
            elif kind == "typing":
                await self._on_typing(chat, frame)
            elif kind == "seen":
                await self._on_seen(chat, frame)
            elif kind == "continue_later":
                await self._on_continue_later(chat)
            elif kind == "ping":
                chat.frame({"type": "pong"})
            else:
                chat.error("invalid")

    def _register_conv(self, chat: _Chat, conv_id: str | None) -> None:
        old = chat.conv_id
        if old is not None and old != conv_id:
            members = self._by_conv.get(old)
            if members is not None:
                members.discard(chat)
                if not members:
                    del self._by_conv[old]
            # A new conversation of the same person: its positions start again.
            chat.upto = 0
            chat.id_seq.clear()
            chat.unseen.clear()
            chat.closed = False
            chat.last_status = None
        chat.conv_id = conv_id
        if conv_id is not None:
            self._by_conv.setdefault(conv_id, set()).add(chat)
        chat.frame({"type": "welcome", "conversation_id": conv_id, "token": self.token(chat.secret, conv_id)})

    def _forget(self, chat: _Chat) -> None:
        self._chats.discard(chat)
        if chat.conv_id is not None:
            members = self._by_conv.get(chat.conv_id)
            if members is not None:
                members.discard(chat)
                if not members:
                    del self._by_conv[chat.conv_id]
        if chat.address:
            peers = self._by_address.get(chat.address)
            if peers is not None:
                peers.discard(chat)
                if not peers:
                    del self._by_address[chat.address]

    async def _hello(self, chat: _Chat, frame: Mapping[str, Any]) -> bool:
        lang = frame.get("lang")
        chat.lang = lang if lang in LANGS else "sv"
        resume = frame.get("resume")
        secret: str | None = None
        conv: str | None = None
        last_seq = 0
        failed = False
        state: dict[str, Any] | None = None
        if isinstance(resume, dict):
            code = resume.get("code")
            if isinstance(code, str) and code:
                wanted = normalize_code(code)
                found = await self.services.find_by_resume_code(self.name, wanted) if wanted else None
                if wanted and found:
                    secret, conv = wanted, found
                else:
                    failed = True
            else:
                verified = self.verify_token(resume.get("token"))
                claimed = resume.get("conversation_id")
                if verified and (not claimed or claimed == verified[1]):
                    secret, conv = verified
                    raw_seq = resume.get("last_seq")
                    if isinstance(raw_seq, int) and not isinstance(raw_seq, bool) and raw_seq > 0:
                        last_seq = raw_seq
                else:
                    failed = True
            if conv is not None:
                state = await self.services.conversation_state(ConversationId(conv))
                if state is None:  # gone (retention): start afresh
                    secret, conv, last_seq, failed = None, None, 0, True
        elif resume is not None:
            failed = True
        if secret is None:
            secret = new_secret()
        chat.secret = secret
        chat.address = self.address_of(secret)
        chat.sender = pseudonymize(self._key, self.name, chat.address)
        peers = self._by_address.setdefault(chat.address, set())
        if len(peers) >= self.max_sockets:
            if not peers:
                del self._by_address[chat.address]
            chat.error("too_many_connections")
            return False
        peers.add(chat)
        chat.ready = True
        chat.upto = last_seq
        pending = frame.get("pending")
        if isinstance(pending, list):
            for client_id in pending[:MAX_PENDING]:
                if isinstance(client_id, str) and CLIENT_ID_RE.fullmatch(client_id):
                    chat.own[self.message_id(chat.address, client_id)] = client_id
        if failed:
            chat.error("resume_failed")
        self._register_conv(chat, conv)
        chat.put("status", state or {"state": "new"})
        if conv is not None:
            chat.put("catchup")
        return True

    async def _allow(self, address: str) -> bool:
        """At most ``messages_per_minute`` per person, counted by the gateway across the fleet
        (which admits the message when its limiter is unavailable)."""
        return await self.services.allow(f"webchat:{address}", self.per_minute, RATE_WINDOW)

    async def _on_message(self, chat: _Chat, frame: Mapping[str, Any]) -> None:
        client_id, text = frame.get("client_id"), frame.get("text")
        if (
            not isinstance(client_id, str)
            or not CLIENT_ID_RE.fullmatch(client_id)
            or not isinstance(text, str)
        ):
            chat.error("invalid", client_id if isinstance(client_id, str) and len(client_id) <= 64 else None)
            return
        if len(text) > self.max_chars:
            chat.error("too_long", client_id)
            return
        if not text.strip():
            chat.error("empty", client_id)
            return
        mid = self.message_id(chat.address, client_id)
        known = mid in chat.id_seq or mid in chat.own
        if chat.closed and not known:
            chat.error("closed", client_id)
            return
        if not known and not await self._allow(chat.address):
            chat.error("rate_limited", client_id)
            return
        if self._ingress is None:
            chat.error("unavailable", client_id)
            return
        chat.own[mid] = client_id
        envelope = Envelope(
            message_id=MessageId(mid),
            direction=Direction.IN,
            channel=self.name,
            sender=chat.sender,
            text=text,
            conversation_id=ConversationId(chat.conv_id) if chat.conv_id else None,
            received_at=utcnow(),
            external_id=f"{chat.address}:{client_id}",
        )
        try:
            result = await self._ingress(envelope, chat.address)
        except InvalidInput as exc:  # DeadLettered too: kept for the admins, never resent
            chat.own.pop(mid, None)
            code = "not_stored" if isinstance(exc, DeadLettered) else "invalid"
            chat.error("too_long" if "longer" in exc.reason else code, client_id)
            return
        except Exception as exc:
            log.warning("webchat: a message could not be stored (%s)", type(exc).__name__)
            chat.error("unavailable", client_id)
            return
        if result.conversation_id != chat.conv_id:
            self._register_conv(chat, result.conversation_id)
        chat.put("ack", (client_id, mid, result.seq))
        if not result.duplicate:
            chat.put(
                "status",
                {
                    "state": result.state,
                    "queue_position": result.queue_position,
                    "assigned": result.state == "assigned",
                },
            )

    async def _control(self, chat: _Chat, control: str, **meta: Any) -> None:
        if self._ingress is None or chat.conv_id is None:
            return
        envelope = Envelope(
            message_id=new_message_id(),
            direction=Direction.IN,
            channel=self.name,
            sender=chat.sender,
            text="",
            conversation_id=ConversationId(chat.conv_id),
            received_at=utcnow(),
            meta={"control": control, **meta},
        )
        try:
            await self._ingress(envelope, chat.address)
        except InvalidInput:
            pass  # the conversation is no longer open
        except Exception as exc:
            log.warning("webchat: a %s signal was not passed on (%s)", control, type(exc).__name__)

    async def _on_typing(self, chat: _Chat, frame: Mapping[str, Any]) -> None:
        typing = frame.get("typing")
        if not isinstance(typing, bool):
            chat.error("invalid")
            return
        if chat.conv_id is None or chat.closed:
            return
        now = time.monotonic()
        if typing == chat.typing_on and (not typing or now - chat.typing_at < TYPING_REPEAT):
            return
        # Typing is a hint, not a message: a few per socket, then one per TYPING_INTERVAL; the rest
        # are dropped (each one passed on costs the store and the broker a round).
        if chat.typing_refill:
            earned = int((now - chat.typing_refill) / TYPING_INTERVAL)
            if earned:
                chat.typing_budget = min(TYPING_BURST, chat.typing_budget + earned)
                chat.typing_refill += earned * TYPING_INTERVAL
        if chat.typing_budget <= 0:
            return
        if chat.typing_budget == TYPING_BURST:
            chat.typing_refill = now
        chat.typing_budget -= 1
        chat.typing_on, chat.typing_at = typing, now
        await self._control(chat, CONTROL_TYPING if typing else CONTROL_PAUSED)

    async def _on_seen(self, chat: _Chat, frame: Mapping[str, Any]) -> None:
        seq = frame.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            chat.error("invalid")
            return
        for s in sorted(s for s in chat.unseen if s <= seq)[:20]:
            mid = chat.unseen.pop(s)
            await self._control(chat, CONTROL_DELIVERED, message_id=mid)

    async def _on_continue_later(self, chat: _Chat) -> None:
        if chat.conv_id is None or chat.closed:
            chat.error("no_conversation" if chat.conv_id is None else "closed")
            return
        try:
            await self.services.set_resume_code(ConversationId(chat.conv_id), chat.secret)
        except Exception as exc:
            log.warning("webchat: resume code not saved (%s)", type(exc).__name__)
            chat.error("unavailable")
            return
        chat.frame({"type": "resume_code", "code": format_code(chat.secret)})

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
