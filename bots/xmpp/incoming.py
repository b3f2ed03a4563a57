"""What the XMPP adapter does with a person's stanzas: messages (receipted only once stored),
chat states and delivery receipts, handed to ingress one at a time per person.

What the adapter answers by itself (a message refused or not stored) is in the person's language:
the language of the message when it says enough, else their conversation's language (the last one
ingress or a notice named for them, kept in memory for :data:`LANGUAGES_KEPT` people), else Swedish.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from slixmpp import JID

from bots.xmpp.connection import XmppConnection
from gateway import catalogues
from gateway.channel import CONTROL_DELIVERED, CONTROL_PAUSED, CONTROL_TYPING, Backoff, Ingress, IngressResult
from gateway.envelope import Direction, Envelope, Pseudonym, new_message_id, pseudonymize
from gateway.errors import DeadLettered, HelplineError
from nlu.language import detect_language

log = logging.getLogger("bots.xmpp")  # the name its records had before the split

CHANNEL = "xmpp"
OOB_NS = "jabber:x:oob"
EXTERNAL_ID_MAX = 255
"""Length of ``messages.external_id`` in the store."""

_SILENT_STATES = {"active", "paused", "inactive", "gone"}
LANGUAGES_KEPT = 4096
"""How many people's conversation languages the adapter remembers (the least recent are forgotten)."""


@dataclass
class Serial:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class XmppIncoming(XmppConnection):
    """The receiving half of :class:`~bots.xmpp.adapter.XmppAdapter` (its state is made there)."""

    _jid: JID
    _key: bytes
    _ingress: Ingress | None
    _tasks: set[asyncio.Task[None]]
    _serials: dict[str, Serial]
    _typing: set[str]
    _languages: OrderedDict[str, str]

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
        entry = self._serials.setdefault(key, Serial())
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

    def _remember_language(self, sender: Pseudonym, language: str | None) -> None:
        if language and language != "und":
            self._languages[sender] = language
            self._languages.move_to_end(sender)
            while len(self._languages) > LANGUAGES_KEPT:
                self._languages.popitem(last=False)

    def _language(self, sender: Pseudonym, text: str) -> str:
        """The person catalogue's language to answer in (see the module's note)."""
        known = self._languages.get(sender)
        if text.strip():
            # Weak evidence (a short or unclear text) gives back the hint: the conversation's.
            guess = detect_language(text, known).language
            if guess != "und":
                return catalogues.pick("person", guess)
        return catalogues.pick("person", known)

    def _reply_error(self, msg: Any, sender: Pseudonym, msgid: str, **values: Any) -> None:
        lang = self._language(sender, msg["body"] or "")
        text = catalogues.text("person", lang, msgid, **values)
        reply = self._message(msg["from"], text)
        self._try_write(reply, "error answer")

    async def _handle_message(self, msg: Any, peer: JID) -> None:
        sender = self._pseudonym(peer)
        async with self._serially(sender):
            text = msg["body"]
            if msg.xml.find(f"{{{OOB_NS}}}x") is not None:
                log.info("channel xmpp: file or link attachment refused")
                self._reply_error(msg, sender, "xmpp.only_text")
                return
            if not text.strip():
                log.info("channel xmpp: empty message refused")
                self._reply_error(msg, sender, "xmpp.empty")
                return
            if len(text) > self.config["max_chars"]:
                log.info("channel xmpp: oversized message refused (%d characters)", len(text))
                self._reply_error(msg, sender, "xmpp.too_long", max_chars=self.config["max_chars"])
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
                self._reply_error(msg, sender, "xmpp.not_accepted")
                return
            if result is None:
                self._reply_error(msg, sender, "xmpp.not_received")
                return
            self._remember_language(sender, result.language)
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
