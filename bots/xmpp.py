"""XMPP channel (slixmpp): one-to-one chats with people who write from any XMPP client.

The gateway logs in as its own account and keeps one connection, so only the process holding the
channel's lease runs it (``needs_lease()``) and only that process can send
(``sends_from_any_process = False``).

What the adapter speaks besides plain chat messages:

* presence subscriptions are accepted (and a subscription back is requested);
* service discovery (XEP-0030) and ping (XEP-0199) are answered;
* chat states (XEP-0085): the person's ``composing``/``paused`` become control envelopes
  (``meta["control"]`` ``"typing"``/``"paused"``); ``notify(..., "typing", ...)`` sends
  ``<composing/>`` to the person;
* the triage's safe response is delivered by the pipeline through egress like any outgoing
  message (the adapter never sends ``IngressResult.safe_response`` itself);
* delivery receipts (XEP-0184): every message we send asks for one and a receipt that comes back
  becomes a ``"delivered"`` control envelope for ``meta["message_id"]`` (the stanza id of what we
  sent is the envelope's message id).  A receipt the person asked for is sent only once ingress
  has returned, i.e. once the message is stored durably; a message that could not be stored is
  never receipted, and the person is told to try again.

Nothing raw leaves the adapter but the bare JID handed to ingress as ``address`` (kept only in the
encrypted contact record): the envelope's sender is the keyed pseudonym, the resource is dropped,
and neither JIDs nor message text are logged (slixmpp's own protocol log is held at WARNING,
because at DEBUG it writes every stanza).

Delivery guarantees: ``send()`` reports SENT only once the stanza was written to a live stream;
while the connection is down it waits (``send_wait`` seconds) for the reconnection and otherwise
raises :class:`~gateway.errors.TransientChannelError` so that the caller retries.  The connection
is re-established by :func:`gateway.channel.run_with_reconnect` with :class:`gateway.channel.Backoff`; a
server that stops answering pings is dropped and reconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from slixmpp import JID, ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.jid import InvalidJID
from slixmpp.xmlstream import tostring

from gateway.channel import (
    CONTROL_DELIVERED,
    CONTROL_PAUSED,
    CONTROL_TYPING,
    AdapterState,
    Backoff,
    ChannelAdapter,
    Delivery,
    DeliveryStatus,
    Ingress,
    IngressResult,
    register_channel,
    run_with_reconnect,
)
from gateway.envelope import (
    ConversationId,
    Direction,
    Envelope,
    Pseudonym,
    new_message_id,
    pseudonymize,
)
from gateway.errors import BadCredentials, ConfigError, DeadLettered, HelplineError, TransientChannelError
from gateway.tasks import cancel_and_wait

log = logging.getLogger(__name__)

CHANNEL = "xmpp"
OOB_NS = "jabber:x:oob"
EXTERNAL_ID_MAX = 255
"""Length of ``messages.external_id`` in the store."""

DEFAULTS: dict[str, Any] = {
    "resource": "helpline",
    "plaintext": False,
    "max_chars": 4000,
    "send_wait": 10.0,
    "connect_timeout": 20.0,
    "keepalive": 60.0,
    "reconnect_initial": 0.5,
    "reconnect_max": 30.0,
    "ingress_attempts": 3,
}

TEXTS: dict[str, dict[str, str]] = {
    "sv": {
        "empty": "Ditt meddelande var tomt. Skriv gärna med text vad du vill berätta eller fråga.",
        "too_long": (
            "Ditt meddelande är för långt (högst {max_chars} tecken) och har inte tagits emot. "
            "Dela gärna upp det i flera kortare meddelanden."
        ),
        "only_text": (
            "Vi kan bara ta emot text här. Bilder och filer sparas inte – "
            "skriv gärna med ord vad du vill berätta."
        ),
        "not_received": (
            "Ditt senaste meddelande kunde inte tas emot just nu. Skicka det gärna igen om en liten stund."
        ),
        "not_accepted": (
            "Ditt meddelande kunde tyvärr inte tas emot. Försök gärna igen, med kortare text om det var "
            "ett långt meddelande."
        ),
        "assigned": "En samtalsstödjare har anslutit till samtalet och läser det du har skrivit.",
        "closed": (
            "Samtalet är avslutat. Du är välkommen att skriva till oss igen när du vill – "
            "då börjar ett nytt samtal."
        ),
        "queue": "Du är nummer {position} i kön. En samtalsstödjare svarar så snart som möjligt.",
    },
    "en": {
        "empty": "Your message was empty. Please write what you would like to tell or ask us.",
        "too_long": (
            "Your message is too long (at most {max_chars} characters) and was not received. "
            "Please split it into several shorter messages."
        ),
        "only_text": (
            "We can only receive text here. Pictures and files are not kept – "
            "please write what you would like to tell us."
        ),
        "not_received": "Your last message could not be received just now. Please send it again in a moment.",
        "not_accepted": (
            "Sorry, your message could not be received. Please try again, with a shorter text if it was "
            "a long message."
        ),
        "assigned": "A counsellor has joined the conversation and is reading what you wrote.",
        "closed": (
            "The conversation is closed. You are welcome to write to us again at any time – "
            "that starts a new conversation."
        ),
        "queue": "You are number {position} in the queue. A counsellor will answer as soon as possible.",
    },
}

_SILENT_STATES = {"active", "paused", "inactive", "gone"}


def _quiet_protocol_log() -> None:
    """slixmpp logs every stanza (JIDs, message text) at DEBUG: never let that through."""
    proto = logging.getLogger("slixmpp")
    if proto.level < logging.WARNING:  # also NOTSET, which would follow the root logger down
        proto.setLevel(logging.WARNING)


@dataclass
class _Serial:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


@register_channel
class XmppAdapter(ChannelAdapter):
    name: ClassVar[str] = "xmpp"
    config_schema: ClassVar[Mapping[str, tuple[type, bool]]] = {
        "jid": (str, True),
        "password": (str, True),
        "host": (str, False),
        "port": (int, False),
        "plaintext": (bool, False),
        "resource": (str, False),
        "max_chars": (int, False),
        "send_wait": (float, False),
        "connect_timeout": (float, False),
        "keepalive": (float, False),
        "reconnect_initial": (float, False),
        "reconnect_max": (float, False),
        "ingress_attempts": (int, False),
    }
    sends_from_any_process: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any], pseudonym_key: bytes) -> None:
        section = f"channels.{self.name}"
        values = {**DEFAULTS, **self.validate_config(section, config)}
        super().__init__(values)
        if not pseudonym_key:
            raise ConfigError("pseudonym_key", "must not be empty")
        try:
            jid = JID(values["jid"])
        except InvalidJID:
            raise ConfigError(f"{section}.jid", "is not a valid JID") from None
        if not jid.user:
            raise ConfigError(f"{section}.jid", "must name an account (user@domain)")
        if values["max_chars"] < 1:
            raise ConfigError(f"{section}.max_chars", "must be positive")
        self._jid = JID(f"{jid.bare}/{values['resource']}")
        self._key = pseudonym_key
        self._client: Any = None
        self._ingress: Ingress | None = None
        self._stopping = asyncio.Event()
        self._online = asyncio.Event()
        self._lost = asyncio.Event()
        self._outcome: asyncio.Future[str] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._serials: dict[str, _Serial] = {}
        self._typing: set[str] = set()

    # -- lifecycle -------------------------------------------------------------------------------

    def needs_lease(self) -> bool:
        return True

    async def start(self, ingress: Ingress) -> None:
        if self._runner is not None and not self._runner.done():
            return
        _quiet_protocol_log()
        self._ingress = ingress
        self._stopping = asyncio.Event()
        self._online = asyncio.Event()
        self._client = self._make_client()
        self.set_state(AdapterState.CONNECTING)
        backoff = Backoff(initial=self.config["reconnect_initial"], maximum=self.config["reconnect_max"])
        self._runner = asyncio.create_task(
            run_with_reconnect(self, self._connect_once, self._stopping, backoff), name="xmpp-connection"
        )

    async def stop(self) -> None:
        self._stopping.set()
        if self._client is not None and self._online.is_set():
            # Unavailable first: from now on the server keeps new messages for the next session
            # (offline storage) instead of handing them to a connection that is about to close.
            self._try_write(self._client.make_presence(ptype="unavailable"), "unavailable presence")
        if self._tasks:
            # Let messages already handed to ingress finish (they are receipted when stored).
            _, pending = await asyncio.wait(set(self._tasks), timeout=5.0)
            for task in pending:
                task.cancel()
        client = self._client
        if client is not None:
            with contextlib.suppress(Exception):
                client.cancel_connection_attempt()
            if client.transport is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.disconnect(wait=1.0), timeout=2.0)
            with contextlib.suppress(Exception):
                client.abort()
        runner, self._runner = self._runner, None
        await cancel_and_wait(runner)
        if client is not None:
            out = getattr(client, "_run_out_filters", None)
            if out is not None:
                out.cancel()
        self._online.clear()
        self._client = None
        self.set_state(AdapterState.STOPPED)

    async def wait_connected(self, timeout: float) -> bool:
        """Wait until the session is up; False on timeout (for callers and tests)."""
        try:
            await asyncio.wait_for(self._online.wait(), timeout)
        except TimeoutError:
            return False
        return self.state() == AdapterState.CONNECTED

    def _make_client(self) -> Any:
        client = ClientXMPP(self._jid, self.config["password"])
        for plugin in ("xep_0030", "xep_0085", "xep_0199"):
            client.register_plugin(plugin)
        client.register_plugin("xep_0184", pconfig={"auto_ack": False, "auto_request": False})
        client.plugin["xep_0030"].add_identity(category="client", itype="bot", name="helpline")
        if self.config["plaintext"]:
            client.enable_plaintext = True
            client.enable_starttls = False
            client.enable_direct_tls = False
            client.plugin["feature_mechanisms"].unencrypted_plain = True
        client.auto_authorize = True
        client.auto_subscribe = True
        client.add_event_handler("session_start", self._on_session_start)
        client.add_event_handler("disconnected", self._on_disconnected)
        client.add_event_handler("failed_all_auth", self._on_failed_auth)
        client.add_event_handler("connection_failed", self._on_connection_failed)
        client.add_event_handler("message", self._on_message)
        client.add_event_handler("chatstate", self._on_chat_state)
        client.add_event_handler("receipt_received", self._on_receipt)
        client.add_event_handler("message_error", self._on_message_error)
        return client

    # -- connection ------------------------------------------------------------------------------

    def _resolve(self, outcome: str) -> None:
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(outcome)

    def _on_session_start(self, _event: Any) -> None:
        self._resolve("session")

    def _on_failed_auth(self, _event: Any) -> None:
        self._resolve("auth")

    def _on_connection_failed(self, _event: Any) -> None:
        self._resolve("failed")

    def _on_disconnected(self, _event: Any) -> None:
        self._online.clear()
        self._lost.set()
        self._resolve("disconnected")

    async def _connect_once(self) -> None:
        client = self._client
        self._outcome = asyncio.get_running_loop().create_future()
        self._lost = asyncio.Event()
        host, port = self.config.get("host"), self.config.get("port")
        if host:
            client.connect(host, port or 5222)
        else:
            client.connect()
        try:
            outcome = await asyncio.wait_for(asyncio.shield(self._outcome), self.config["connect_timeout"])
        except TimeoutError:
            outcome = "timeout"
        if outcome != "session":
            client.cancel_connection_attempt()
            client.abort()
            if outcome == "auth":
                raise BadCredentials("the XMPP server refused the account's credentials")
            raise TransientChannelError(f"could not open an XMPP session ({outcome})")
        try:
            await client.get_roster(timeout=self.config["connect_timeout"])
        except (IqError, IqTimeout):
            log.warning("channel xmpp: roster not loaded")
        client.send_presence()
        self._online.set()
        self.set_state(AdapterState.CONNECTED)
        log.info("channel xmpp: session established")
        await self._hold_session(client)
        self._online.clear()
        if not self._stopping.is_set():
            log.warning("channel xmpp: connection lost, reconnecting")
            self.set_state(AdapterState.TRANSIENT_ERROR, "connection lost")

    async def _hold_session(self, client: Any) -> None:
        """Return when the stream ends; a server that stops answering pings is dropped."""
        interval = self.config["keepalive"]
        while not self._lost.is_set():
            try:
                await asyncio.wait_for(self._lost.wait(), interval)
            except TimeoutError:
                try:
                    await client.plugin["xep_0199"].ping(timeout=min(interval, 30.0))
                except IqTimeout:
                    log.warning("channel xmpp: server stopped answering pings, dropping the connection")
                    client.abort()
                except IqError:
                    pass  # the server answered: the connection is alive

    # -- writing ---------------------------------------------------------------------------------

    def _write(self, stanza: Any) -> None:
        """Write a stanza to the live stream now, or raise TransientChannelError.

        Bypasses slixmpp's send queue, whose failures are only logged, so that success here means
        the stanza went onto the connection (and stanzas of ours keep their order).
        """
        client = self._client
        transport = client.transport if client is not None else None
        if not self._online.is_set() or transport is None or transport.is_closing():
            raise TransientChannelError("the XMPP connection is down", retry_after=1.0)
        client.send_raw(tostring(stanza.xml, xmlns=client.default_ns, stream=client, top_level=True))

    async def _write_when_online(self, stanza: Any) -> None:
        if self.state() in (AdapterState.STOPPED, AdapterState.BAD_CREDENTIALS) or self._client is None:
            raise TransientChannelError(f"the XMPP channel is {self.state().value}")
        if not self._online.is_set():
            try:
                await asyncio.wait_for(self._online.wait(), self.config["send_wait"])
            except TimeoutError:
                raise TransientChannelError("the XMPP connection is down", retry_after=5.0) from None
        self._write(stanza)

    def _message(self, to: Any, body: str | None = None, stanza_id: str | None = None) -> Any:
        msg = self._client.make_message(mto=to, mbody=body, mtype="chat")
        msg["id"] = stanza_id or new_message_id()
        return msg

    def _try_write(self, stanza: Any, what: str) -> None:
        try:
            self._write(stanza)
        except TransientChannelError:
            log.warning("channel xmpp: %s not sent, the connection is down", what)

    @staticmethod
    def _address(address: str) -> JID | None:
        try:
            jid = JID(address)
        except InvalidJID:
            return None
        if not jid.user or not jid.domain:
            return None
        return JID(jid.bare)

    # -- outgoing --------------------------------------------------------------------------------

    async def send(self, envelope: Envelope, address: str) -> Delivery:
        to = self._address(address)
        if to is None:
            return Delivery(DeliveryStatus.FAILED, detail="invalid XMPP address")
        if not envelope.text.strip():
            return Delivery(DeliveryStatus.FAILED, detail="empty message")
        if self._client is None:
            raise TransientChannelError("the XMPP channel is not running")
        msg = self._message(to, envelope.text, envelope.message_id)
        msg["request_receipt"] = True
        msg["chat_state"] = "active"
        await self._write_when_online(msg)
        return Delivery(DeliveryStatus.SENT, channel_message_id=str(envelope.message_id))

    async def notify(
        self, conversation_id: ConversationId, address: str, event: str, data: Mapping[str, Any]
    ) -> None:
        to = self._address(address)
        if to is None or self._client is None:
            return
        if event in ("typing", "paused"):
            # Chat states are momentary: shown when the connection is up, never retried.
            msg = self._message(to)
            msg["chat_state"] = "composing" if event == "typing" else "paused"
            self._try_write(msg, "chat state")
            return
        texts = TEXTS["en"] if data.get("language") == "en" else TEXTS["sv"]
        if event == "assigned":
            text = texts["assigned"]
        elif event == "closed":
            text = texts["closed"]
        elif event == "queue" and isinstance(data.get("position"), int):
            text = texts["queue"].format(position=data["position"])
        else:
            return
        msg = self._message(to, text)
        msg["chat_state"] = "active"
        await self._write_when_online(msg)

    # -- incoming --------------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("channel xmpp: handling a stanza failed (%s)", type(exc).__name__)

    def _peer(self, msg: Any) -> JID | None:
        """The person's bare JID if this is a one-to-one message from someone else, else None."""
        try:
            if msg["type"] not in ("chat", "normal"):
                return None
            sender = msg["from"]
            if not sender.user or sender.bare == self._jid.bare:
                return None  # the server itself, or our own account's echo
            return JID(sender.bare)
        except Exception as exc:  # an unparsable stanza never stops the adapter
            log.warning("channel xmpp: unreadable message stanza ignored (%s)", type(exc).__name__)
            return None

    @contextlib.asynccontextmanager
    async def _serially(self, key: str) -> AsyncIterator[None]:
        """One person's stanzas reach ingress in the order they came."""
        entry = self._serials.setdefault(key, _Serial())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                self._serials.pop(key, None)

    def _pseudonym(self, peer: JID) -> Pseudonym:
        return pseudonymize(self._key, CHANNEL, peer.bare)

    def _external_id(self, sender: Pseudonym, stanza_id: str) -> str | None:
        """The dedupe key: the stanza id, scoped to the sender (clients number ids from 1)."""
        if not stanza_id:
            return None
        if len(sender) + 1 + len(stanza_id) > EXTERNAL_ID_MAX:
            stanza_id = "sha256-" + hashlib.sha256(stanza_id.encode()).hexdigest()
        return f"{sender}:{stanza_id}"

    def _on_message(self, msg: Any) -> None:
        peer = self._peer(msg)
        if peer is not None:
            self._spawn(self._handle_message(msg, peer))

    def _on_chat_state(self, msg: Any) -> None:
        if msg["body"]:
            return  # a message carrying <active/>: the message itself tells the console
        peer = self._peer(msg)
        if peer is not None:
            self._spawn(self._handle_chat_state(msg["chat_state"], peer))

    def _on_receipt(self, msg: Any) -> None:
        peer = self._peer(msg)
        receipt = msg["receipt"]
        if peer is not None and receipt:
            self._spawn(self._control(peer, {"control": CONTROL_DELIVERED, "message_id": str(receipt)}))

    def _on_message_error(self, msg: Any) -> None:
        log.info("channel xmpp: a message bounced (%s)", msg["error"]["condition"] or "unknown")

    def _reply_error(self, msg: Any, key: str, **values: Any) -> None:
        text = TEXTS["sv"][key].format(**values)
        reply = self._message(msg["from"], text)
        self._try_write(reply, "error answer")

    async def _handle_message(self, msg: Any, peer: JID) -> None:
        sender = self._pseudonym(peer)
        async with self._serially(sender):
            text = msg["body"]
            if msg.xml.find(f"{{{OOB_NS}}}x") is not None:
                log.info("channel xmpp: file or link attachment refused")
                self._reply_error(msg, "only_text")
                return
            if not text.strip():
                log.info("channel xmpp: empty message refused")
                self._reply_error(msg, "empty")
                return
            if len(text) > self.config["max_chars"]:
                log.info("channel xmpp: oversized message refused (%d characters)", len(text))
                self._reply_error(msg, "too_long", max_chars=self.config["max_chars"])
                return
            self._typing.discard(sender)
            envelope = Envelope(
                message_id=new_message_id(),
                direction=Direction.IN,
                channel=CHANNEL,
                sender=sender,
                text=text,
                external_id=self._external_id(sender, msg["id"]),
            )
            try:
                result = await self._ingress_with_retry(envelope, peer.bare)
            except DeadLettered:  # kept for the admins; resending it would not help
                self._reply_error(msg, "not_accepted")
                return
            if result is None:
                self._reply_error(msg, "not_received")
                return
            # Stored durably: now, and only now, confirm receipt to the person.
            if msg["request_receipt"] and msg["id"]:
                ack = self._client.make_message(mto=msg["from"])
                ack["id"] = new_message_id()
                ack["receipt"] = msg["id"]
                self._try_write(ack, "delivery receipt")

    async def _ingress_with_retry(self, envelope: Envelope, address: str) -> IngressResult | None:
        assert self._ingress is not None
        backoff = Backoff(initial=0.2, maximum=2.0)
        attempts = max(1, int(self.config["ingress_attempts"]))
        for attempt in range(1, attempts + 1):
            try:
                return await self._ingress(envelope, address)
            except (asyncio.CancelledError, DeadLettered):
                raise
            except Exception as exc:
                retryable = isinstance(exc, HelplineError) and exc.retryable
                log.warning("channel xmpp: ingress failed (%s), attempt %d", type(exc).__name__, attempt)
                if not retryable or attempt == attempts or self._stopping.is_set():
                    return None
                await asyncio.sleep(backoff.next_delay())
        return None

    async def _handle_chat_state(self, state: str, peer: JID) -> None:
        sender = self._pseudonym(peer)
        async with self._serially(sender):
            if state == "composing":
                if sender in self._typing:
                    return
                self._typing.add(sender)
                control = CONTROL_TYPING
            elif state in _SILENT_STATES and sender in self._typing:
                self._typing.discard(sender)
                control = CONTROL_PAUSED
            else:
                return
            await self._control_unlocked(sender, peer, {"control": control})

    async def _control(self, peer: JID, meta: Mapping[str, Any]) -> None:
        sender = self._pseudonym(peer)
        async with self._serially(sender):
            await self._control_unlocked(sender, peer, meta)

    async def _control_unlocked(self, sender: Pseudonym, peer: JID, meta: Mapping[str, Any]) -> None:
        assert self._ingress is not None
        envelope = Envelope(
            message_id=new_message_id(),
            direction=Direction.IN,
            channel=CHANNEL,
            sender=sender,
            text="",
            meta=dict(meta),
        )
        try:
            await self._ingress(envelope, peer.bare)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "channel xmpp: control signal %s not delivered (%s)", meta["control"], type(exc).__name__
            )
