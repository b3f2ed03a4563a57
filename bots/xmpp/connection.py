"""The XMPP adapter's connection: one session opened, held (pings) and reported; stanzas written
straight to the live stream, so that success means the stanza went onto the connection."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slixmpp import JID
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.jid import InvalidJID
from slixmpp.xmlstream import tostring

from gateway.channel import AdapterState, ChannelAdapter
from gateway.envelope import new_message_id
from gateway.errors import BadCredentials, ChannelConnectError, TransientChannelError
from gateway.netfail import connect_failure

log = logging.getLogger("bots.xmpp")  # the name its records had before the split


def quiet_protocol_log() -> None:
    """slixmpp logs every stanza (JIDs, message text) at DEBUG: never let that through."""
    proto = logging.getLogger("slixmpp")
    if proto.level < logging.WARNING:  # also NOTSET, which would follow the root logger down
        proto.setLevel(logging.WARNING)


class XmppConnection(ChannelAdapter):
    """The connection half of :class:`~bots.xmpp.adapter.XmppAdapter` (its state is made there)."""

    _client: Any
    _stopping: asyncio.Event
    _online: asyncio.Event
    _lost: asyncio.Event
    _outcome: asyncio.Future[str] | None
    _failure: Any = None
    """What slixmpp reported of the last failed connection attempt."""

    # -- connection ------------------------------------------------------------------------------

    def _resolve(self, outcome: str) -> None:
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(outcome)

    def _on_session_start(self, _event: Any) -> None:
        self._resolve("session")

    def _on_failed_auth(self, _event: Any) -> None:
        self._resolve("auth")

    def _on_connection_failed(self, event: Any) -> None:
        # slixmpp passes the OSError (refused, TLS) or a sentence (no DNS record).
        self._failure = event
        self._resolve("failed")

    def _on_invalid_chain(self, error: Any) -> None:
        self._failure = error  # the certificate refused during STARTTLS
        self._resolve("failed")

    def _on_disconnected(self, _event: Any) -> None:
        self._online.clear()
        self._lost.set()
        self._resolve("disconnected")

    async def _connect_once(self) -> None:
        client = self._client
        self._outcome = asyncio.get_running_loop().create_future()
        self._lost = asyncio.Event()
        self._failure = None
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
            raise self._session_failure(outcome, host, port)
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

    def _session_failure(self, outcome: str, host: Any, port: Any) -> Exception:
        """Why no session opened: which server, which step, what to check."""
        server = str(host) if host else JID(self.config["jid"]).domain
        where = f"{server}:{port or 5222}" if host else f"{server} (DNS SRV)"
        if outcome == "auth":
            return BadCredentials(
                f"XMPP {where}: login failed (refused); check channels.xmpp.jid and password"
            )
        failure = self._failure
        if isinstance(failure, BaseException):
            known = connect_failure(
                "XMPP",
                server,
                int(port or 5222) if host else None,
                failure,
                step="session start",
                tls_key="channels.xmpp.plaintext",
            )
            if known is not None:
                return known
        if isinstance(failure, str):  # slixmpp's "No DNS record available for ..."
            return ChannelConnectError(
                "XMPP", where, "DNS lookup", "no address found", "the JID's domain or channels.xmpp.host"
            )
        if outcome == "timeout":
            return ChannelConnectError(
                "XMPP",
                where,
                "session start",
                "timed out",
                "that an XMPP server answers on this host and port",
            )
        return ChannelConnectError("XMPP", where, "session start", outcome, "the server's log")

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
