"""Live updates to the consoles connected to this process, driven by the broker's fan-out.

Every gateway process listens to the ``queue`` and ``conversation`` topics, so a counsellor
connected to any process sees what happens in all of them:

* a queue event -> the change of the conversation it names to every console it concerns, as a
  numbered delta (:mod:`handoff.console.live_queue`; coalesced when events come in bursts), and
  ``{"type": "alert", "priority": "critical"}`` first when a critical conversation arrived; a
  whole snapshot when a console connects, asks (it saw a gap) or after a resync; each of them
  alerts a console to every waiting critical conversation it was not alerted to yet;
* a ``critical_assigned`` queue event (a conversation someone holds turned critical) -> an alert
  with ``"assigned": true`` to the counsellor who holds it (``"yours": true``) and to every
  supervisor and admin (with the holder's name), to nobody else: nobody else can act on it;
* a conversation event -> to the console of the counsellor who holds the conversation (and to
  the one who held it until this event, so that a transfer or a release reaches them too).

Who is alerted and offered what (the shift: available members, supervisors and admins; the
banner, new conversations, reminders, status) is :mod:`handoff.console.live_attention`; the
sockets and sending to them, :mod:`handoff.console.live_client`.

Events come at least once (gateway.outbox): an event id seen already is ignored, so that no
console shows an alert or a message twice.  When the broker's feed was interrupted (``resync``),
every console gets a fresh queue snapshot from the store.  Queue frames to one console go out
one at a time (its lock), and rows read before that console's snapshot are not sent to it, so that
nothing older ever follows something newer; a slow console holds up only itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from typing import Any

import orjson

from gateway.broker.base import RESYNC, Broker, Event, Subscription
from gateway.events import CRITICAL_ASSIGNED, TOPIC_CONVERSATION, TOPIC_QUEUE
from gateway.metrics import Metrics
from gateway.store.db import Database
from gateway.tasks import cancel_and_wait
from handoff.shift import languages
from handoff.shift.presence import STAFF_STATUS
from handoff.shift.reminders import WAIT_REMINDER

from .data import QueueRow, assigned_loads, client_message, queue_rows, queue_snapshot
from .live_attention import Attention
from .live_client import Client, bound_send_buffer
from .live_queue import Encoded
from .security import SUPERVISOR_ROLES

__all__ = ["Client", "Hub", "bound_send_buffer"]

log = logging.getLogger(__name__)

COALESCE_SECONDS = 0.03
SEEN_EVENTS = 4096
"""Event ids remembered per topic to ignore a republished event."""
SIGNALS = frozenset({"typing", "delivery"})
"""Conversation events that say nothing about who holds it: their summary may be half a minute old
(a person's signals are published from a read of up to ``gateway.controls.PEEK_SECONDS`` ago), so
they go to the consoles that hold the conversation as this hub knows it and change no one's list."""
HELD_KEPT = 50_000


class Hub(Attention):
    def __init__(self, db: Database, broker: Broker, metrics: Metrics | None = None) -> None:
        super().__init__(db)
        self.metrics = metrics
        self.broker = broker
        self._subs: list[Subscription] = []
        self._dirty: set[str] = set()
        """Conversations a queue event named since the last batch: their rows go out as deltas."""
        self._full = False
        """A snapshot to every console (after a resync, or an event that names no conversation)."""
        self._attend = False
        """A member's status changed: alerts and offers looked at again, nothing read."""
        self._reads = 0
        """Reads of the queue, numbered: which of two reads saw the newer queue."""
        self._snapshots: asyncio.Task[None] | None = None
        self._held: dict[str, dict[str, Any]] = {}
        """The last summary of each conversation someone holds, from its events: the holder's
        typing is published from it, not from a read (:meth:`held_summary`)."""
        self._seen: dict[str, OrderedDict[str, None]] = {
            TOPIC_QUEUE: OrderedDict(),
            TOPIC_CONVERSATION: OrderedDict(),
        }

    def _first_time(self, event: Event) -> bool:
        """False for an event id this hub has handled already (a republish)."""
        seen = self._seen.setdefault(event.topic, OrderedDict())
        if event.id in seen:
            return False
        seen[event.id] = None
        if len(seen) > SEEN_EVENTS:
            seen.popitem(last=False)
        return True

    def held_summary(self, client: Client, conversation_id: str) -> dict[str, Any] | None:
        """The conversation's summary as its last event gave it, if ``client``'s counsellor holds
        it as this hub knows it; None when the hub has not seen it held by them (read it then)."""
        conv = self._held.get(conversation_id)
        if conv is None or conversation_id not in client.mine or conv.get("assigned_to") != client.user_id:
            return None
        return conv

    async def start(self) -> None:
        self._subs = [
            await self.broker.fanout(TOPIC_QUEUE, self._on_queue),
            await self.broker.fanout(TOPIC_CONVERSATION, self._on_conversation),
        ]

    async def stop(self) -> None:
        for sub in self._subs:
            await sub.cancel()
        self._subs = []
        snapshots, self._snapshots = self._snapshots, None
        await cancel_and_wait(snapshots)
        await self.going_away()

    # ------------------------------------------------------------------ clients
    async def add(self, client: Client) -> None:
        self.clients.add(client)
        # The member's status as the socket opened (which counts as activity: an automatic away ended).
        await self._send(client, {"type": "status", "status": client.status, "initial": True})
        await self.resend(client)

    async def resend(self, client: Client) -> None:
        """The whole queue to this console (it opened, or it saw a gap in the deltas)."""
        async with client.frames:
            read = self._read_number()
            async with self.db.session() as session:
                waiting, by_user = await queue_snapshot(session)
            self._unread.clear()
            await self._send_snapshot(client, read, waiting, by_user)

    def _read_number(self) -> int:
        self._reads += 1
        return self._reads

    # ------------------------------------------------------------------ broker events
    async def _on_queue(self, event: Event) -> None:
        if not self._first_time(event):
            return
        payload = event.payload
        kind, named = payload.get("kind"), payload.get("conversation_id")
        if "disclosure_id" in payload or "referral_id" in payload:
            await self._tell_handoff(str(named), "disclosure" if "disclosure_id" in payload else "referral")
            return  # the queue is as it was
        if kind in (STAFF_STATUS, WAIT_REMINDER):
            pass  # names nobody's place in the queue
        elif kind == RESYNC or not isinstance(named, str) or not named:
            self._full = True  # read from the store for everyone
        else:
            self._dirty.add(named)
        if payload.get("kind") == RESYNC:
            pass
        elif payload.get("kind") == CRITICAL_ASSIGNED:
            await self._alert_holder_and_supervisors(payload)
        elif payload.get("kind") == WAIT_REMINDER:
            await self._remind(payload)
            return  # the queue is as it was
        elif payload.get("kind") == STAFF_STATUS:
            if not await self._status_changed(payload):
                return  # no console here changed: the queue is as it was for everyone
            self._attend = True  # one that became available is alerted to a waiting critical one
        elif payload.get("critical"):
            sent = await self._alert_critical(str(payload.get("conversation_id")))
            if self.metrics is not None:
                self.metrics.alerted(event.at, sent)
        if self._snapshots is None or self._snapshots.done():
            self._snapshots = asyncio.create_task(self._update_loop(), name="console queue updates")

    async def _tell_handoff(self, conversation_id: str, what: str) -> None:
        """A disclosure or referral of this conversation changed: its holder's panel and the
        supervisors' page read it again (they do not look on every message)."""
        frame = {"type": "conversation", "kind": what, "conversation_id": conversation_id}
        targets = [c for c in self.clients if conversation_id in c.mine or c.role in SUPERVISOR_ROLES]
        await asyncio.gather(*(self._send(c, frame) for c in targets))

    async def _update_loop(self) -> None:
        while self._dirty or self._full or self._attend:
            await asyncio.sleep(COALESCE_SECONDS)
            full, ids = self._full, self._dirty
            self._full, self._dirty, self._attend = False, set(), False
            if not self.clients:
                self._unread.clear()
                continue  # a console that connects gets a snapshot read then
            try:
                if full:
                    await self._snapshots_to_all()
                else:
                    await self._deltas(ids)
            except Exception as exc:
                log.warning("could not read the queue for live updates (%s)", type(exc).__name__)
                # What was not sent is not lost: everyone gets the whole queue once the store answers.
                self._full = True
                await asyncio.sleep(1.0)

    async def _snapshots_to_all(self) -> None:
        read = self._read_number()
        async with self.db.session() as session:
            waiting, by_user = await queue_snapshot(session)
            self._unread.clear()
            on_duty = await languages.on_duty_staff(session)
        # Languages someone on duty with room speaks (in any process): theirs first.
        spoken = languages.free_speakers(on_duty, {uid: len(m) for uid, m in by_user.items()})
        # The waiting list is the same for every console: encoded once, not once per console.
        encoded = json.dumps(waiting)
        # Side by side: a console whose socket is slow must not hold up the others.
        await asyncio.gather(
            *(self._snapshot_to(c, read, waiting, by_user, spoken, encoded) for c in list(self.clients))
        )

    async def _deltas(self, ids: set[str]) -> None:
        """The rows of the conversations named since the last batch, to each console as what changed
        for it (nothing to a console for which nothing did)."""
        rows: dict[str, QueueRow] = {}
        spoken: set[str] = set()
        read = self._read_number()
        if ids:
            async with self.db.session() as session:
                rows = await queue_rows(session, ids)
                self._unread -= rows.keys()
                joined = any(
                    row.waiting is not None and any(cid not in c.view.waiting for c in self.clients)
                    for cid, row in rows.items()
                )
                if joined:  # offered first to those who speak its language (read only then)
                    on_duty = await languages.on_duty_staff(session)
                    spoken = languages.free_speakers(on_duty, await assigned_loads(session))
        encoded = Encoded()
        await asyncio.gather(*(self._send_delta(c, read, rows, spoken, encoded) for c in list(self.clients)))

    async def _send_delta(
        self, client: Client, read: int, rows: dict[str, QueueRow], spoken: set[str], encoded: Encoded
    ) -> None:
        async with client.frames:
            if read < client.view.read:
                rows = {}  # its snapshot was read after these rows: it knows better already
            changes = client.view.changes(rows, client.user_id, encoded)
            for conversation_id, row in rows.items():
                if row.holder == client.user_id:
                    client.mine.add(conversation_id)
                else:
                    client.mine.discard(conversation_id)
            await self._look_again(client, client.view.waiting_list(), len(client.view.mine), spoken)
            if changes:
                await self._send(client, client.view.delta(changes, client.capacity))

    async def _snapshot_to(
        self,
        client: Client,
        read: int,
        waiting: list[dict[str, Any]],
        by_user: dict[int, list[dict[str, Any]]],
        spoken: set[str],
        encoded: str,
    ) -> None:
        async with client.frames:
            if read > client.view.read:  # not when it got one read later meanwhile
                await self._send_snapshot(client, read, waiting, by_user, spoken, encoded)

    async def _send_snapshot(
        self,
        client: Client,
        read: int,
        waiting: list[dict[str, Any]],
        by_user: dict[int, list[dict[str, Any]]],
        spoken: set[str] | frozenset[str] = frozenset(),
        encoded: str | None = None,
    ) -> None:
        """The queue as this console sees it (``encoded``: ``waiting`` as JSON, when the caller
        sends the same list to many consoles)."""
        mine = by_user.get(client.user_id, [])
        client.mine = {m["conversation_id"] for m in mine}
        await self._look_again(client, waiting, len(mine), spoken)
        seq = client.view.reset(waiting, mine, read)
        rest = json.dumps({"mine": mine, "load": len(mine), "capacity": client.capacity})
        waiting_json = encoded if encoded is not None else json.dumps(waiting)
        await self._send(client, f'{{"type": "queue", "seq": {seq}, "waiting": {waiting_json}, {rest[1:]}')

    async def _on_conversation(self, event: Event) -> None:
        if not self._first_time(event):
            return
        payload = event.payload
        if payload.get("kind") == RESYNC:
            return  # the queue topic's resync sends every console a snapshot
        conv = payload.get("conversation") or {}
        conv_id = str(payload.get("conversation_id", ""))
        holder = conv.get("assigned_to") if conv.get("state") == "assigned" else None
        if payload.get("kind") in SIGNALS:
            targets = [c for c in self.clients if conv_id in c.mine]
        else:
            if holder is not None:
                if len(self._held) >= HELD_KEPT:
                    self._held.clear()  # summaries of conversations whose end this hub missed; re-read
                self._held[conv_id] = conv
            else:
                self._held.pop(conv_id, None)
            targets = []
            for client in list(self.clients):
                held_before = conv_id in client.mine
                holds = holder == client.user_id
                if holds:
                    client.mine.add(conv_id)
                else:
                    client.mine.discard(conv_id)
                if holds or held_before:
                    targets.append(client)
        if not targets:
            # Most events of a fleet's conversations concern consoles of another process: no frame.
            return
        frame = _conversation_frame(payload, conv, conv_id)  # once, for every console it goes to
        for client in targets:
            await self._send(client, frame)


def _conversation_frame(payload: dict[str, Any], conv: dict[str, Any], conv_id: str) -> str:
    """A conversation event as the console's live feed shows it."""
    out: dict[str, Any] = {
        "type": "conversation",
        "kind": payload.get("kind"),
        "conversation_id": conv_id,
        "conversation": {k: conv.get(k) for k in ("state", "priority", "intent", "language", "unreachable")},
    }
    if isinstance(payload.get("message"), dict):
        out["message"] = client_message(payload["message"])
    for key in ("who", "typing", "message_id", "delivery", "detail", "phone"):
        if key in payload:
            out[key] = payload[key]
    return orjson.dumps(out).decode()
