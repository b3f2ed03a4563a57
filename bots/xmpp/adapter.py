"""The XMPP channel's adapter: configuration, lifecycle and sending (see :mod:`bots.xmpp`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, ClassVar

from slixmpp import JID, ClientXMPP
from slixmpp.jid import InvalidJID

from bots.xmpp.connection import quiet_protocol_log
from bots.xmpp.incoming import Serial, XmppIncoming
from gateway import catalogues
from gateway.channel import (
    AdapterState,
    Backoff,
    ChannelKey,
    Delivery,
    DeliveryStatus,
    Ingress,
    register_channel,
    run_with_reconnect,
)
from gateway.envelope import ConversationId, Envelope
from gateway.errors import ConfigError, TransientChannelError
from gateway.tasks import cancel_and_wait

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


@register_channel
class XmppAdapter(XmppIncoming):
    name: ClassVar[str] = "xmpp"
    config_schema: ClassVar[Mapping[str, ChannelKey]] = {
        "jid": ChannelKey(str, True, doc="The bot's account, e.g. `stod@example.se`."),
        "password": ChannelKey(str, True, doc="Its password."),
        "host": ChannelKey(str, default="from the JID's DNS SRV records", doc="Server to connect to."),
        "port": ChannelKey(int, default=5222, doc="Its port (with `host`)."),
        "plaintext": ChannelKey(
            bool,
            default=DEFAULTS["plaintext"],
            doc="No TLS at all and plain login: only for a local test server.",
        ),
        "resource": ChannelKey(str, default=DEFAULTS["resource"], doc="The session's resource."),
        "max_chars": ChannelKey(
            int, default=DEFAULTS["max_chars"], doc="Longest stanza body sent; longer is split."
        ),
        "send_wait": ChannelKey(
            float, default=DEFAULTS["send_wait"], doc="Seconds a send waits for the connection to come back."
        ),
        "connect_timeout": ChannelKey(
            float, default=DEFAULTS["connect_timeout"], doc="Seconds until a connection attempt is given up."
        ),
        "keepalive": ChannelKey(float, default=DEFAULTS["keepalive"], doc="Seconds between pings."),
        "reconnect_initial": ChannelKey(
            float, default=DEFAULTS["reconnect_initial"], doc="First reconnect wait."
        ),
        "reconnect_max": ChannelKey(float, default=DEFAULTS["reconnect_max"], doc="Longest reconnect wait."),
        "ingress_attempts": ChannelKey(
            int,
            default=DEFAULTS["ingress_attempts"],
            doc="Tries to store a message before it is not acknowledged.",
        ),
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
        self._serials: dict[str, Serial] = {}
        self._typing: set[str] = set()
        self._languages: OrderedDict[str, str] = OrderedDict()

    # -- lifecycle -------------------------------------------------------------------------------

    def needs_lease(self) -> bool:
        return True

    async def start(self, ingress: Ingress) -> None:
        if self._runner is not None and not self._runner.done():
            return
        quiet_protocol_log()
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
        client.add_event_handler("ssl_invalid_chain", self._on_invalid_chain)
        client.add_event_handler("message", self._on_message)
        client.add_event_handler("chatstate", self._on_chat_state)
        client.add_event_handler("receipt_received", self._on_receipt)
        client.add_event_handler("message_error", self._on_message_error)
        return client

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
        lang = catalogues.pick("person", str(data.get("language") or ""))
        self._remember_language(self._pseudonym(to), str(data.get("language") or ""))
        if event == "assigned":
            text = catalogues.text("person", lang, "xmpp.assigned")
        elif event == "closed":
            text = catalogues.text("person", lang, "xmpp.closed")
        elif event == "queue" and isinstance(data.get("position"), int):
            text = catalogues.text("person", lang, "xmpp.queue", position=data["position"])
        else:
            return
        msg = self._message(to, text)
        msg["chat_state"] = "active"
        await self._write_when_online(msg)
