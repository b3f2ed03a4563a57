"""A counsellor with the console page open, request for request as its scripts make them.

``page`` mode follows ``console.js`` (with ``console_queue.js`` and ``console_conversations.js``),
``records.js`` and ``handoff.js``: login through the form (its CSRF token), the page's start (canned
answers, the pending documentation list, the queue, the live socket), the live queue as a snapshot
and then deltas (a gap asks for a snapshot), for each conversation held a panel (handoff options
once, referrals and disclosures, the transcript; new messages appended from the live feed), the
panels' refresh 300 ms after a live event names a referral or disclosure of the conversation or a
reread of its transcript, typing signals (once per 4 s of typing), the reply (with an
Idempotency-Key), and at the end the close, the documentation form, its submission and the pending
list again; the pending list every 60 s.

``claim`` mode is the console stripped to claim + reply (+ close, so that capacity frees up).

Which conversations a counsellor claims: those of "its" visitors (the load generator knows
whose conversation is whose), so that twenty counsellors do not all race for the same row, as
people looking at one list do not.  Critical alert conversations are left in the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from . import protocol as P
from .stats import Stats, now

REPLY_TEXT = "Tack för att du berättar. Det låter tungt. Vill du berätta mer om vad du har märkt?"
SUMMARY = "Samtal om oro för en närstående; råd om hur man kan prata med personen."
_LOGIN_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_PAGE_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@dataclass
class Panel:
    seqs: set[int] = field(default_factory=set)
    max_seq: int = 0
    last_person: int = 0
    last_answer: int = 0
    replies: int = 0
    closed: bool = False
    replying: bool = False
    sent_typing: float = 0.0
    refresh_busy: bool = False
    refresh_again: bool = False
    refresh_timer: asyncio.TimerHandle | None = None
    waiting: bool = False  # a referral or disclosure the panel waits on (handoff.js dataset.waiting)
    transcripts: int = 0  # transcript reads (handoff.js: a refresh on each after the first)


class Console:
    def __init__(
        self,
        index: int,
        url: str,
        username: str,
        password: str,
        mode: str,
        think: float,
        typing: bool,
        messages: int,
        stats: Stats,
        owner: dict[str, int],
    ) -> None:
        self.index, self.url, self.username, self.password = index, url, username, password
        self.page = mode == "page"
        self.think, self.typing, self.messages = think, typing, messages
        self.stats, self.owner = stats, owner
        self.csrf = ""
        self.panels: dict[str, Panel] = {}
        self.ended: set[str] = set()
        """console_conversations.js ``ended``: closed here, never opened again by a late event."""
        self.claiming: dict[str, list[dict[str, Any]]] = {}
        """Claims on their way, with the live events that came meanwhile (console_conversations.js
        beginClaim / endClaim: the claim's answer opens the panel, then they are applied)."""
        self.options_asked = False  # handoff.js options(): once per page
        self.tasks: set[asyncio.Task[Any]] = set()
        self.session = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), connector=aiohttp.TCPConnector(limit=6)
        )  # a browser keeps about six connections per host
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.asked: dict[str, asyncio.Future[tuple[int, dict[str, Any]]]] = {}  # common.js live().ask
        self.queue_seq: int | None = None  # common.js queueView: the number of the last queue frame
        self.waiting: dict[str, dict[str, Any]] = {}
        self.mine: set[str] = set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and not self.stats.stopping:
            self.stats.error("console task failed", repr(task.exception()))

    async def api(
        self, req: P.Request, *ids: str, body: Any = None, action: bool = False, key: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """common.js api() (and apiAction(): an Idempotency-Key) for one request of the table."""
        headers = {}
        if req.method != "GET":
            headers["X-CSRF-Token"] = self.csrf
        if action:
            headers["Idempotency-Key"] = key or uuid.uuid4().hex
        self.stats.request(req.key)
        async with self.session.request(
            req.method, self.url + req.url(*ids), json=body, headers=headers
        ) as resp:
            try:
                answer = await resp.json(content_type=None)
            except ValueError:
                answer = {}
        data: dict[str, Any] = answer if isinstance(answer, dict) else {}
        if resp.status >= 400 and not self.stats.stopping:
            race = req.method == "GET" and resp.status == 403 and data.get("error") == "not_assigned_to_you"
            # A panel's read that crossed the close of its conversation: the page makes it too.
            kind = "page race (read after close)" if race else "error"
            self.stats.error(f"{kind}: {req.key} -> {resp.status}", json.dumps(data)[:300])
        return resp.status, data

    # ------------------------------------------------------------------ login and page start
    async def login(self) -> None:
        async with self.session.get(self.url + "/console/login") as resp:
            token = _LOGIN_CSRF.search(await resp.text())
        form = {
            "csrf": token.group(1) if token else "",
            "lang": "sv",
            "username": self.username,
            "password": self.password,
        }
        self.stats.request(P.LOGIN.key)
        async with self.session.post(self.url + P.LOGIN.path, data=form) as resp:  # 303 -> the console page
            page = await resp.text()
        found = _PAGE_CSRF.search(page)
        if found is None:
            raise RuntimeError(f"{self.username}: login failed ({resp.status} at {resp.url.path})")
        self.csrf = found.group(1)

    async def start(self) -> None:
        """console.js start(), records.js's first refreshPending and shift.js's status, then the
        live socket."""
        if self.page:
            await asyncio.gather(self.api(P.CANNED), self.api(P.PENDING), self.api(P.STATUS))
            self._spawn(self._pending_every_minute())
            self._spawn(self._panels_every_ten_seconds())
        status, snap = await self.api(P.QUEUE)
        if status == 200:
            self._snapshot(snap)
        self.ws = await self._connect_live()
        self._spawn(self._live(self.ws))

    async def _connect_live(self) -> aiohttp.ClientWebSocketResponse:
        ws_url = self.url.replace("http", "ws", 1) + P.CONSOLE_WS
        return await self.session.ws_connect(
            ws_url, headers={"Origin": self.url}, autoping=True, compress=P.WS_COMPRESS
        )

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(BaseException):
                await task
        for panel in self.panels.values():
            if panel.refresh_timer is not None:
                panel.refresh_timer.cancel()
        if self.ws is not None:
            await self.ws.close()
        await self.session.close()

    async def _panels_every_ten_seconds(self) -> None:
        """handoff.js: each panel looks again every 10 s while something is pending."""
        while True:
            await asyncio.sleep(P.PANEL_WAITING_INTERVAL.seconds)
            for conv in [c for c, p in self.panels.items() if p.waiting]:
                self._spawn(self._refresh(conv))

    async def _pending_every_minute(self) -> None:
        while True:
            await asyncio.sleep(P.PENDING_INTERVAL.seconds)
            await self.api(P.PENDING)

    # ------------------------------------------------------------------ the live feed
    async def _live(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            kind = data.get("type")
            if kind == "answer":  # common.js live(): an answer settles its ask, nothing else
                waiting = self.asked.get(str(data.get("key")))
                if waiting is not None and not waiting.done():
                    waiting.set_result((int(data.get("status", 0)), data.get("data") or {}))
                continue
            if self.stats.measuring:
                self.stats.console_frames[str(kind)] += 1
            if kind == "alert":
                self.stats.alert(str(data.get("conversation_id")), self.index)
                conv = str(data.get("conversation_id"))
                if self.page and data.get("assigned") and data.get("yours") and conv in self.panels:
                    self._spawn(self._transcript(conv))
            elif kind in ("queue", "queue_delta"):
                self._queue_frame(ws, data)
            elif kind == "conversation":
                self._conversation_event(data)
        if self.stats.stopping:
            return
        self.stats.error("console live socket closed", self.username)
        delay = P.LIVE_RECONNECT.seconds  # common.js live(): back-off, then onOpen(reconnected)
        while not self.stats.stopping:
            await asyncio.sleep(delay)
            try:
                self.ws = await self._connect_live()
                self.queue_seq = None
            except aiohttp.ClientError:
                delay = min(delay * 2, 10.0)
                continue
            if self.page:
                for conv in list(self.panels):
                    self._spawn(self._transcript(conv))
            self._spawn(self._live(self.ws))
            return

    def _queue_frame(self, ws: aiohttp.ClientWebSocketResponse, data: dict[str, Any]) -> None:
        """common.js queueView: a snapshot, or a delta that follows the last frame; a delta out of
        sequence asks for a snapshot on the socket."""
        if data.get("type") == "queue":
            self.queue_seq = data.get("seq")
            self._snapshot(data)
            return
        if self.queue_seq is None or data.get("seq") != self.queue_seq + 1:
            if self.queue_seq is not None:
                self.stats.error("console queue delta out of sequence", self.username)
                self.queue_seq = None
                self._spawn(ws.send_str(json.dumps({"type": P.CONSOLE_FRAME_SNAPSHOT})))
                if self.stats.measuring:
                    self.stats.console_frames_out[P.CONSOLE_FRAME_SNAPSHOT] += 1
            return
        self.queue_seq = data["seq"]
        for change in data.get("changes") or []:
            conv = str(change.get("conversation_id"))
            removed = change.get("op") == "removed"
            if change.get("list") != "mine":
                if removed:
                    self.waiting.pop(conv, None)
                else:
                    self.waiting[conv] = change.get("entry") or {}
                continue
            # console_queue.js mineChanged: only the conversations the delta names open or close.
            if removed:
                self.mine.discard(conv)
                panel = self.panels.get(conv)
                if self.page and panel is not None and not panel.closed:
                    self._remove(conv)
            else:
                self.mine.add(conv)
                if self.page and conv not in self.panels:
                    self._open(conv)
        self._claim_mine()

    def _snapshot(self, snap: dict[str, Any]) -> None:
        self.waiting = {str(e.get("conversation_id")): e for e in snap.get("waiting") or []}
        self.mine = {str(m.get("conversation_id")) for m in snap.get("mine") or []}
        self._queue_changed()

    def _queue_changed(self) -> None:
        self._claim_mine()
        if not self.page:
            return
        mine = self.mine
        for conv in mine - set(self.panels):
            self._open(conv)  # reconcileMine
        for conv in [c for c, p in self.panels.items() if c not in mine and not p.closed]:
            self._remove(conv)

    def _claim_mine(self) -> None:
        for conv in self.waiting:
            if self.owner.get(conv) == self.index and conv not in self.claiming and conv not in self.panels:
                self.claiming[conv] = []
                self._spawn(self._claim(conv))

    def _conversation_event(self, msg: dict[str, Any]) -> None:
        conv = str(msg.get("conversation_id"))
        held = self.claiming.get(conv)
        if held is not None:
            held.append(msg)
            return
        panel = self.panels.get(conv)
        state = (msg.get("conversation") or {}).get("state")
        if panel is None:
            if self.page and state == "assigned":
                self._open(conv)
            return
        message = msg.get("message")
        if msg.get("kind") == "message" and isinstance(message, dict):
            seq = int(message.get("seq") or 0)
            if self.page and seq > panel.max_seq + 1 and panel.max_seq > 0:
                self._spawn(self._transcript(conv))
            else:
                if message.get("kind") == "person":
                    self.stats.stage("2 message -> console's live feed", self.stats.sent_at.get(conv))
                self._add(conv, message)
        elif msg.get("kind") == "state" and state == "closed":
            panel.closed = True
        elif self.page and msg.get("kind") in ("referral", "disclosure"):
            self._refresh_soon(conv, panel)

    # ------------------------------------------------------------------ conversations
    async def _claim(self, conv: str) -> None:
        try:
            status, data = await self.api(P.CLAIM, conv)
        finally:
            held = self.claiming.pop(conv, [])
        if status == 200:
            if self.page:
                self._open(conv, data.get("transcript"))
            else:
                panel = self.panels.setdefault(conv, Panel())
                panel.last_person = 1  # the message that queued it waits for its answer
                self._maybe_reply(conv)
        for msg in held:
            self._conversation_event(msg)

    def _open(self, conv: str, given: dict[str, Any] | None = None) -> None:
        """openConversation: the panel (handoff.js mounts: options once) and the transcript, whose
        answer brings the panel's referrals, disclosures and the person's earlier contacts; after a
        claim, its answer brought the transcript (``given``)."""
        if conv in self.panels or conv in self.ended or conv in self.claiming:
            return  # read once, when the panel opens; a claim on its way opens it from its answer
        self.panels[conv] = Panel()
        if not self.options_asked:
            self.options_asked = True
            self._spawn(self.api(P.HANDOFF_OPTIONS))
        if given:
            self._show(conv, given)
        else:
            self._spawn(self._transcript(conv))

    def _remove(self, conv: str) -> None:
        panel = self.panels.pop(conv, None)
        if panel is not None and panel.closed:
            self.ended.add(conv)
        if panel is not None and panel.refresh_timer is not None:
            panel.refresh_timer.cancel()

    async def _transcript(self, conv: str) -> None:
        status, data = await self.api(P.TRANSCRIPT, conv)
        if conv not in self.panels:
            return
        if status in (403, 404):
            self._remove(conv)
            return
        if status == 200:
            self._show(conv, data)

    def _show(self, conv: str, data: dict[str, Any]) -> None:
        """showTranscript: its messages in the log, then what handoff.js and person.js do."""
        if conv not in self.panels:
            return
        for message in data.get("messages") or []:
            self._add(conv, message)
        panel = self.panels[conv]
        if (data.get("conversation") or {}).get("state") == "closed":
            panel.closed = True
        panel.transcripts += 1
        if self.page and panel.transcripts > 1:  # handoff.js on hl:transcript: not the opening's
            self._refresh_soon(conv, panel)
        elif panel.transcripts == 1:
            # handoff.js and person.js on the first hl:transcript: drawn from its panels, else read.
            parts = data.get("panels") or {}
            if "referrals" in parts and "disclosures" in parts:
                self._note_waiting(panel, parts["referrals"], parts["disclosures"])
            else:
                self._spawn(self._refresh(conv))
            if "person" not in parts:
                self._spawn(self.api(P.PERSON, conv))

    def _add(self, conv: str, message: dict[str, Any]) -> None:
        """addMessage: a new seq in the log (handoff.js reads its panel again on a person's message
        only while a referral or disclosure waits)."""
        panel = self.panels.get(conv)
        seq = message.get("seq")
        if panel is None or not isinstance(seq, int) or seq in panel.seqs:
            return
        panel.seqs.add(seq)
        panel.max_seq = max(panel.max_seq, seq)
        if message.get("kind") == "person":
            panel.last_person = max(panel.last_person, seq)
        elif message.get("kind") == "counsellor":
            panel.last_answer = max(panel.last_answer, seq)
        if self.page and message.get("kind") == "person" and panel.waiting:
            self._refresh_soon(conv, panel)
        self._maybe_reply(conv)

    def _refresh_soon(self, conv: str, panel: Panel) -> None:
        """handoff.js later(): the panel's refresh 300 ms after the last reason for one."""
        if panel.refresh_timer is not None:
            panel.refresh_timer.cancel()
        panel.refresh_timer = asyncio.get_running_loop().call_later(
            P.PANEL_REFRESH_DEBOUNCE.seconds, lambda: self._spawn(self._refresh(conv))
        )

    async def _refresh(self, conv: str) -> None:
        """handoff.js refresh(): referrals and disclosures at once; one more if asked meanwhile."""
        panel = self.panels.get(conv)
        if panel is None:
            return
        if panel.refresh_busy:
            panel.refresh_again = True
            return
        panel.refresh_busy = True
        try:
            (_, refs), (_, discs) = await asyncio.gather(
                self.api(P.REFERRALS, conv), self.api(P.DISCLOSURES, conv)
            )
        finally:
            panel.refresh_busy = False
        self._note_waiting(panel, refs.get("referrals") or [], discs.get("disclosures") or [])
        if panel.refresh_again and conv in self.panels:
            panel.refresh_again = False
            await self._refresh(conv)

    @staticmethod
    def _note_waiting(
        panel: Panel, referrals: list[dict[str, Any]], disclosures: list[dict[str, Any]]
    ) -> None:
        """What makes the page look again every 10 s (none of it happens in this benchmark's script)."""
        panel.waiting = any(
            r.get("status") in ("consent_requested", "consented")
            or (r.get("sent_at") and not r.get("acknowledged_at"))
            for r in referrals
        ) or any(
            d.get("status") in ("pending_approval", "approved")
            or (d.get("review_required") and not d.get("reviewed_at"))
            for d in disclosures
        )

    async def _typing(self, conv: str, on: bool) -> None:
        """console_conversations.js sendTyping: a frame on the live socket (a request only while
        the socket is down, which the benchmark's never is)."""
        if self.ws is not None and not self.ws.closed:
            frame = {"type": P.CONSOLE_FRAME_TYPING, "conversation_id": conv, "typing": on}
            await self.ws.send_str(json.dumps(frame))
            if self.stats.measuring:
                self.stats.console_frames_out[P.CONSOLE_FRAME_TYPING] += 1

    async def _reply_frame(self, conv: str, text: str) -> tuple[int, dict[str, Any]]:
        """common.js liveAction: the reply on the live socket, answered by key; as a request with
        the same key when no answer comes in time (or the answer says to try again)."""
        key = uuid.uuid4().hex
        answer: tuple[int, dict[str, Any]] | None = None
        if self.ws is not None and not self.ws.closed:
            waiting = asyncio.get_running_loop().create_future()
            self.asked[key] = waiting
            frame = {"type": P.CONSOLE_FRAME_REPLY, "key": key, "conversation_id": conv, "text": text}
            try:
                await self.ws.send_str(json.dumps(frame))
                if self.stats.measuring:
                    self.stats.console_frames_out[P.CONSOLE_FRAME_REPLY] += 1
                answer = await asyncio.wait_for(waiting, P.REPLY_WAIT.seconds)
            except (TimeoutError, ConnectionError):
                answer = None
            finally:
                self.asked.pop(key, None)
        status = answer[0] if answer is not None else 0
        if answer is None or status >= 500 or (status == 409 and answer[1].get("error") == "in_progress"):
            return await self.api(P.REPLY, conv, body={"text": text}, action=True, key=key)
        if status >= 400 and not self.stats.stopping:
            self.stats.error(f"error: frame {P.CONSOLE_FRAME_REPLY} -> {status}", json.dumps(answer[1])[:300])
        return answer

    def _maybe_reply(self, conv: str) -> None:
        panel = self.panels.get(conv)
        if panel is None or panel.closed or panel.replying or panel.last_person <= panel.last_answer:
            return
        if panel.replies >= self.messages:
            return
        panel.replying = True
        self._spawn(self._reply(conv, panel))

    async def _reply(self, conv: str, panel: Panel) -> None:
        try:
            done_typing = now() + self.think
            while True:  # typingStarted on every keystroke: a signal at most every 4 s
                if self.page and self.typing and now() - panel.sent_typing > P.CONSOLE_TYPING_REPEAT.seconds:
                    panel.sent_typing = now()
                    await self._typing(conv, True)
                left = done_typing - now()
                if left <= 0:
                    break
                await asyncio.sleep(min(left, P.CONSOLE_TYPING_REPEAT.seconds))
            answered = panel.last_person
            self.stats.replied_at[conv] = started = now()
            status, data = await self._reply_frame(conv, REPLY_TEXT)
            self.stats.stage("3 reply answered", started)
            if status != 200:
                return
            panel.sent_typing = 0.0
            panel.replies += 1
            panel.last_answer = max(panel.last_answer, answered)
            if isinstance(data.get("message"), dict):
                self._add(conv, data["message"])
            if panel.replies >= self.messages:
                await self._close(conv, panel)
        finally:
            panel.replying = False
        self._maybe_reply(conv)

    async def _close(self, conv: str, panel: Panel) -> None:
        """The close button, then (records.js on hl:closed) the form and the save: the form from the
        close's answer, else read with the pending list."""
        status, closed = await self.api(P.CLOSE, conv)
        if status != 200:
            return
        panel.closed = True
        self._remove(conv)  # and into self.ended
        if not self.page:
            return
        parts = closed.get("parts") if isinstance(closed, dict) else None
        form = parts.get("documentation") if isinstance(parts, dict) else None
        if not isinstance(form, dict) or form.get("conversation_id") != conv:
            self._spawn(self.api(P.PENDING))  # both at once, as the page
            form_status, form = await self.api(P.DOC_FORM, conv)
            if form_status != 200:
                return
        # Saved: records.js drops the conversation from its pending list without asking again.
        await self.api(P.DOC_SAVE, conv, body={"values": fill(form)}, action=True)


def fill(form: dict[str, Any]) -> dict[str, Any]:
    """Values for the documentation form's mandatory fields, as a counsellor would choose them."""
    out: dict[str, Any] = {}
    for spec in form.get("fields") or []:
        if not spec.get("mandatory"):
            continue
        values = [v.get("value") for v in spec.get("values") or [] if isinstance(v, dict)]
        kind = spec.get("type")
        if kind == "choice" and values:
            out[spec["key"]] = values[0]
        elif kind == "multi_choice" and values:
            out[spec["key"]] = values[:1]
        elif kind == "bool":
            out[spec["key"]] = False
        elif kind == "text":
            out[spec["key"]] = SUMMARY
        elif kind == "municipality":
            out[spec["key"]] = values[0] if values else "0180"
    return out
