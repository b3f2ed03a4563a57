"""One visitor's socket: its state, and the one worker task that sends it everything in order
(frames, fan-out events, catching up from the store, acknowledgements, status)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

from aiohttp import web

from gateway import catalogues
from gateway.channel import ChannelServices
from gateway.envelope import ConversationId, Direction, Pseudonym
from gateway.sockets import close_all
from gateway.tasks import cancel_and_wait

log = logging.getLogger("bots.webchat")  # the name its records had before the split

KINDS = ("person", "bot", "counsellor", "system")
POLICY_VIOLATION = 1008
TYPING_BURST = 3  # typing signals a socket may pass on at once; then one per TYPING_INTERVAL
SEND_QUEUE = 256  # frames and events waiting for one socket; a reader this far behind is disconnected


class ChatHost(Protocol):
    """What a socket needs of its adapter."""

    max_chars: int

    @property
    def services(self) -> ChannelServices: ...


class Chat:
    """One visitor socket.  Everything sent to it goes through one worker task, in order."""

    def __init__(
        self,
        adapter: ChatHost,
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
        self.language = ""
        """The conversation's language last told to the page."""
        self.state = "new"
        self.closed = False
        self.by_code = False
        """Resumed with the person's resume code: they may start a new conversation after a close."""
        self.typing_on = False
        self.typing_at = 0.0
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(SEND_QUEUE)
        self.dropped = False
        self.hello_closer: asyncio.Task[int] | None = None
        self.typing_budget = TYPING_BURST
        self.typing_refill = 0.0
        self.task: asyncio.Task[None] | None = None
        self.signals: deque[tuple[str, int | None]] = deque()
        """Signals read and not yet passed on: (control, the seq ``seen`` up to) (handlers._signal)."""
        self.signal_task: asyncio.Task[None] | None = None

    # -- worker ---------------------------------------------------------------------------------
    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name="webchat socket")

    async def stop(self) -> None:
        await cancel_and_wait(self.signal_task)
        await cancel_and_wait(self.task)

    async def finish(self, timeout: float = 1.0) -> None:
        """Let the worker send what is queued (errors, acks) and the signals read be passed on
        (a receipt), then stop both."""
        if self.dropped or self.queue.full():
            await self.stop()
            return
        if self.signal_task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self.signal_task), timeout)
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
        words = catalogues.section("person", self.lang, "chat.")
        text = words.get(f"err_{code}", words["err_invalid"])
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
        elif kind == "answer":  # the bot's safe response, from the ingress result (seq-checked)
            message, language = data
            await self._convey(message)
            await self._language(language)
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
                await self._language(str((event.get("conversation") or {}).get("language") or ""))
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

    async def _language(self, language: str) -> None:
        """Tell the page the conversation's language (the triage's) when it changes: a page whose
        language the person did not pick follows it."""
        if language and language != self.language and language in catalogues.languages("person"):
            self.language = language
            await self._send({"type": "language", "language": language})

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


def close_without_hello(chat: Chat) -> None:
    """A socket that never said hello holds a file descriptor for nothing: close it."""
    if not chat.ready and not chat.ws.closed:
        task = asyncio.create_task(close_all([chat.ws], code=POLICY_VIOLATION, message=b"no hello"))
        chat.hello_closer = task
