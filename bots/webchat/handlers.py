"""What the web chat does with a socket's frames once it is open: hello (a new conversation or a
resume), messages, typing, seen, continue later; and which sockets belong to which conversation."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from bots.webchat.identity import Identity, format_code, new_secret, normalize_code
from bots.webchat.session import TYPING_BURST, Chat
from gateway import catalogues
from gateway.channel import (
    CONTROL_DELIVERED,
    CONTROL_PAUSED,
    CONTROL_TYPING,
    ChannelAdapter,
    ChannelServices,
    Ingress,
)
from gateway.envelope import (
    ConversationId,
    Direction,
    Envelope,
    MessageId,
    SenderKind,
    new_message_id,
    pseudonymize,
    utcnow,
)
from gateway.errors import DeadLettered, InvalidInput

log = logging.getLogger("bots.webchat")  # the name its records had before the split

CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_PENDING = 50
RATE_WINDOW = 60.0
TYPING_REPEAT = 3.0
TYPING_INTERVAL = 2.0


class WebchatHandlers(ChannelAdapter):
    """The web chat adapter's handling of a socket's frames (its state is made by the adapter)."""

    max_chars: int
    per_minute: int
    max_sockets: int
    identity: Identity
    _key: bytes
    _services: ChannelServices | None
    _ingress: Ingress | None
    _chats: set[Chat]
    _by_conv: dict[str, set[Chat]]
    _by_address: dict[str, set[Chat]]

    @property
    def services(self) -> ChannelServices:
        if self._services is None:
            raise RuntimeError("webchat: attach() was not called")
        return self._services

    def attach(self, services: ChannelServices) -> None:
        self._services = services

    def _register_conv(self, chat: Chat, conv_id: str | None) -> None:
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
        chat.frame(
            {
                "type": "welcome",
                "conversation_id": conv_id,
                "token": self.identity.token(chat.secret, conv_id),
            }
        )

    def _forget(self, chat: Chat) -> None:
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

    async def _hello(self, chat: Chat, frame: Mapping[str, Any]) -> bool:
        lang = frame.get("lang")
        chat.lang = lang if lang in catalogues.languages("person") else "sv"
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
                    chat.by_code = True
                else:
                    failed = True
            else:
                verified = self.identity.verify_token(resume.get("token"))
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
        chat.address = self.identity.address_of(secret)
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
                    chat.own[self.identity.message_id(chat.address, client_id)] = client_id
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

    async def _on_message(self, chat: Chat, frame: Mapping[str, Any]) -> None:
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
        mid = self.identity.message_id(chat.address, client_id)
        known = mid in chat.id_seq or mid in chat.own
        # A person who came back with their resume code may write after the close: that starts a
        # new conversation under the same secret (the console recognises them as returning).  A
        # tab that only saw the close has no such proof and is told the conversation is closed.
        if chat.closed and not known and not chat.by_code:
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
            # The page's language: the triage's language when the text alone says too little.
            meta={"language_hint": chat.lang},
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
        answer, answer_seq = result.safe_response, result.safe_response_seq
        if answer is not None and answer_seq is not None:
            # Shown now: its event may have come before this socket knew the conversation (the
            # first message's), and would then show only with the next message's catch-up.
            message = {
                "id": str(answer.message_id),
                "seq": answer_seq,
                "direction": Direction.OUT.value,
                "sender_kind": SenderKind.BOT.value,
                "text": answer.text,
            }
            chat.put("answer", (message, result.language or ""))
        if not result.duplicate:
            chat.put(
                "status",
                {
                    "state": result.state,
                    "queue_position": result.queue_position,
                    "assigned": result.state == "assigned",
                },
            )

    async def _control(self, chat: Chat, control: str, **meta: Any) -> None:
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

    def _signal(self, chat: Chat, kind: str, frame: Mapping[str, Any]) -> None:
        """A ``typing`` or ``seen`` frame, passed on beside the socket's reading, not in its way.

        Each waits for the store (a look at its conversation, a receipt), and under load that is
        a wait for a turn: read in line, the person's next message waited behind it (a critical one
        included, about 120 ms under the benchmark's load).  What is passed on is decided here, as
        the frame is read, and passed on in order by one task per socket; ``seen`` frames one after
        another are one receipt (each covers every seq up to its own)."""
        if kind == "typing":
            control = self._typing_control(chat, frame)
            if control is None:
                return
            chat.signals.append((control, None))
        else:
            seq = frame.get("seq")
            if not isinstance(seq, int) or isinstance(seq, bool):
                chat.error("invalid")
                return
            last = chat.signals[-1] if chat.signals else None
            if last is not None and last[0] == CONTROL_DELIVERED:
                chat.signals[-1] = (CONTROL_DELIVERED, max(seq, last[1] or 0))
            else:
                chat.signals.append((CONTROL_DELIVERED, seq))
        if chat.signal_task is None or chat.signal_task.done():
            chat.signal_task = asyncio.create_task(self._pass_signals(chat), name="webchat signals")

    async def _pass_signals(self, chat: Chat) -> None:
        while chat.signals:
            control, seq = chat.signals.popleft()
            if seq is None:
                await self._control(chat, control)
            else:
                await self._seen(chat, seq)

    def _typing_control(self, chat: Chat, frame: Mapping[str, Any]) -> str | None:
        """The typing signal to pass on for ``frame``, or None: unchanged, or over the budget."""
        typing = frame.get("typing")
        if not isinstance(typing, bool):
            chat.error("invalid")
            return None
        if chat.conv_id is None or chat.closed:
            return None
        now = time.monotonic()
        if typing == chat.typing_on and (not typing or now - chat.typing_at < TYPING_REPEAT):
            return None
        # Typing is a hint, not a message: a few per socket, then one per TYPING_INTERVAL; the rest
        # are dropped (each one passed on costs the store and the broker a round).
        if chat.typing_refill:
            earned = int((now - chat.typing_refill) / TYPING_INTERVAL)
            if earned:
                chat.typing_budget = min(TYPING_BURST, chat.typing_budget + earned)
                chat.typing_refill += earned * TYPING_INTERVAL
        if chat.typing_budget <= 0:
            return None
        if chat.typing_budget == TYPING_BURST:
            chat.typing_refill = now
        chat.typing_budget -= 1
        chat.typing_on, chat.typing_at = typing, now
        return CONTROL_TYPING if typing else CONTROL_PAUSED

    async def _seen(self, chat: Chat, seq: int) -> None:
        for s in sorted(s for s in chat.unseen if s <= seq)[:20]:
            mid = chat.unseen.pop(s)
            await self._control(chat, CONTROL_DELIVERED, message_id=mid)

    async def _on_continue_later(self, chat: Chat) -> None:
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
