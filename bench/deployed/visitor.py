"""A visitor on the web chat page, frame for frame as ``bots/webchat/static/chat.js`` sends them.

On open: ``hello`` (lang, resume: null for a new conversation, pending: []).  Writing: ``typing``
true on the first input once the conversation exists, ``typing`` false on submit, then
``message`` with a fresh client id.  300 ms after a message that is not the person's own, ``seen``
with the highest seq known (once per seq).  When the counsellor closes the conversation, the
person starts a new one on a new socket ("Nytt samtal"), as the page's button does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from .protocol import (
    CHAT_WS,
    FRAME_HELLO,
    FRAME_MESSAGE,
    FRAME_SEEN,
    FRAME_TYPING,
    SEEN_DEBOUNCE,
    WS_COMPRESS,
)
from .stats import Stats, now

# Concern for someone close, normal priority, none near the critical boundary (so the embedding
# stage, which about 2% of Swedish messages need, runs for none of them): checked in tests/bench.
TEXTS = (
    "Jag är orolig för min lillebror, han har börjat titta på konstiga videor och pratar om att samhället måste förstöras.",
    "Min kompis har blivit så arg på allt den senaste tiden och umgås bara med nya människor från nätet.",
    "Hur ska jag prata med min son om det han läser på forumen utan att han stänger av helt?",
    "Jag vet inte om jag överreagerar, men min dotter har slutat träffa sina gamla vänner och umgås bara med en ny grupp.",
    "Min pappa delar allt fler arga inlägg om invandrare och jag vet inte hur jag ska bemöta honom.",
)
CRITICAL_TEXT = (
    "Jag måste berätta något. Några i min klass planerar en attack mot skolan på fredag, de har pratat om "
    "vapen och vilka de ska ta. Jag är rädd."
)


@dataclass
class Pace:
    interval: float  # seconds between one visitor's messages (0: closed loop)
    think: float  # seconds the person types before sending (typing shown meanwhile)
    typing: bool
    messages: int  # messages per conversation before the counsellor closes it
    timeout: float


class Visitor:
    def __init__(
        self, index: int, url: str, pace: Pace, stats: Stats, on_conversation: Callable[[str], None]
    ) -> None:
        self.index = index
        self.url = url
        self.pace = pace
        self.stats = stats
        self.on_conversation = on_conversation  # tells the counsellors which conversation is whose
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task[None] | None = None
        self._fresh()

    def _fresh(self) -> None:
        self.conv: str | None = None
        self.last_seq = 0
        self.max_seen_sent = 0
        self.seen_seqs: set[int] = set()
        self.welcomed = asyncio.Event()
        self.answered = asyncio.Event()
        self.closed = asyncio.Event()
        self.seen_timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ socket
    async def connect(self, session: aiohttp.ClientSession) -> None:
        """Open the page's socket and say hello (a new conversation)."""
        self._fresh()
        ws_url = self.url.replace("http", "ws", 1) + CHAT_WS
        self.ws = await session.ws_connect(
            ws_url, headers={"Origin": self.url}, heartbeat=None, autoping=True, compress=WS_COMPRESS
        )
        self.reader = asyncio.create_task(self._read(self.ws))
        await self._send({"type": FRAME_HELLO, "lang": "sv", "resume": None, "pending": []})
        await asyncio.wait_for(self.welcomed.wait(), self.pace.timeout)

    async def close(self) -> None:
        if self.seen_timer is not None:
            self.seen_timer.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader
        self.ws = self.reader = None

    async def _send(self, frame: dict[str, Any]) -> None:
        if self.ws is None or self.ws.closed:
            return
        await self.ws.send_str(json.dumps(frame))
        if self.stats.measuring:
            self.stats.frames_out[str(frame["type"])] += 1

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            try:
                frame = json.loads(msg.data)
            except ValueError:
                continue
            if isinstance(frame, dict):
                self._handle(frame)

    def _handle(self, f: dict[str, Any]) -> None:
        kind = f.get("type")
        if kind == "welcome":
            conv = f.get("conversation_id")
            if conv and conv != self.conv:
                self.conv = str(conv)
                self.on_conversation(self.conv)
            self.welcomed.set()
        elif kind == "message":
            seq = f.get("seq")
            if not isinstance(seq, int) or seq in self.seen_seqs:
                return
            self._mark(seq)
            if f.get("kind") == "counsellor":
                self.stats.stage(
                    "4 reply sent -> visitor's socket", self.stats.replied_at.get(self.conv or "")
                )
                self.answered.set()
            if f.get("kind") != "person":
                self._schedule_seen()
        elif kind == "ack":
            self.stats.stage("1 message -> ack", self.stats.sent_at.get(self.conv or ""))
            if isinstance(f.get("seq"), int):
                self._mark(f["seq"])
        elif kind == "status":
            if f.get("state") == "closed":
                self.closed.set()
        elif kind == "closed":
            self.closed.set()
        elif kind == "error":
            self.stats.error(f"webchat error {f.get('code')}", json.dumps(f))

    def _mark(self, seq: int) -> None:
        self.seen_seqs.add(seq)
        self.last_seq = max(self.last_seq, seq)

    def _schedule_seen(self) -> None:
        if self.seen_timer is not None:
            self.seen_timer.cancel()
        self.seen_timer = asyncio.get_running_loop().call_later(SEEN_DEBOUNCE.seconds, self._seen_due)

    def _seen_due(self) -> None:
        if self.last_seq > self.max_seen_sent:
            self.max_seen_sent = self.last_seq
            asyncio.get_running_loop().create_task(self._send_seen(self.last_seq))

    async def _send_seen(self, seq: int) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):  # the socket closed meanwhile
            await self._send({"type": FRAME_SEEN, "seq": seq})

    # ------------------------------------------------------------------ writing
    async def write(self, text: str) -> float:
        """Type (if on), submit; returns the time the message frame went out."""
        typing_sent = False
        if self.pace.typing and self.conv is not None:  # chat.js onInput: nothing before a conversation
            await self._send({"type": FRAME_TYPING, "typing": True})
            typing_sent = True
        if self.pace.think > 0:
            await asyncio.sleep(self.pace.think)
        if typing_sent:  # submit() -> stopTyping() before the message goes
            await self._send({"type": FRAME_TYPING, "typing": False})
        self.answered.clear()
        sent = now()
        if self.conv is not None:
            self.stats.sent_at[self.conv] = sent
        await self._send({"type": FRAME_MESSAGE, "client_id": uuid.uuid4().hex, "text": text})
        return sent

    async def run(self, session: aiohttp.ClientSession) -> None:
        """Conversations one after the other until the run stops."""
        interval = self.pace.interval
        next_at = now() + random.random() * interval
        while not self.stats.stopping:
            for n in range(self.pace.messages):
                if self.stats.stopping:
                    return
                wait = next_at - self.pace.think - now()
                if wait > 0:
                    await asyncio.sleep(wait)
                sent = await self.write(TEXTS[(self.index + n) % len(TEXTS)])
                next_at = max(next_at + interval, now()) if interval else now()
                try:
                    await asyncio.wait_for(self.answered.wait(), self.pace.timeout)
                except TimeoutError:
                    if not self.stats.stopping:
                        self.stats.error("visitor: no answer in time", f"conversation {self.conv}")
                    continue
                if self.stats.measuring:
                    self.stats.round_trips += 1
                    (self.stats.first_answers if n == 0 else self.stats.latencies).append(now() - sent)
            try:
                await asyncio.wait_for(self.closed.wait(), self.pace.timeout)
            except TimeoutError:
                if not self.stats.stopping:
                    self.stats.error("visitor: conversation not closed in time", f"conversation {self.conv}")
            await self.close()  # "Nytt samtal": a new socket, a new conversation
            if self.stats.stopping:
                return
            await self.connect(session)
