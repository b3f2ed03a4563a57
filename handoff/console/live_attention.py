"""What each console is alerted to and offered, on top of sending to it (:mod:`.live_client`);
the hub (:mod:`handoff.console.live`) calls these as the queue and the members' status change.

The shift (:mod:`handoff.shift`): only a console whose member is available, or a supervisor's or
admin's, is offered conversations: the critical alert, ``{"type": "new_conversation"}`` for each
conversation that joins the queue (to an available member with free capacity, and for a critical
one whatever the load) and ``{"type": "reminder"}`` for one waiting past its priority's target
(``wait_reminder`` on the queue topic, written once per fleet).  ``{"type": "alert_clear"}`` takes
the critical banner down once no critical conversation waits.  A ``staff_status`` event updates the
member's consoles (``{"type": "status"}``) and tells the supervisors (``{"type": "staff_status"}``);
a member who becomes available is alerted at once to a critical conversation that waits.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gateway.store.db import Database
from gateway.store.models import StaffUser
from handoff.shift import languages

from .live_client import Client, Consoles
from .security import SUPERVISOR_ROLES

log = logging.getLogger(__name__)


class Attention(Consoles):
    """The consoles of this process, and the alerts, banner, offers and reminders each gets."""

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self._unread: set[str] = set()
        """Critical conversations alerted from their event whose row no read has seen yet: still
        critical for the banner and the alerts until one has (the next batch may be of other rows)."""

    async def _alert_critical(self, conversation_id: str) -> int:
        """A critical conversation's event: every attending console not alerted to it yet is
        alerted at once (before the queue is read).  Returns how many were."""
        alert = {"type": "alert", "priority": "critical", "conversation_id": conversation_id}
        targets = [c for c in self.clients if c.attending and conversation_id not in c.alerted]
        self._unread.add(conversation_id)
        for client in targets:
            client.alerted.add(conversation_id)
            client.banner = True
        await asyncio.gather(*(self._send(c, alert) for c in targets))
        return len(targets)

    async def _remind(self, payload: dict[str, Any]) -> None:
        reminder = {
            "type": "reminder",
            **{
                k: payload.get(k)
                for k in ("conversation_id", "priority", "waiting_seconds", "target_seconds")
            },
        }
        for client in list(self.clients):
            if client.attending:
                await self._send(client, reminder)

    async def _status_changed(self, payload: dict[str, Any]) -> bool:
        """Tell the member's consoles and the supervisors; True when a console here changed status
        (then a snapshot follows: one that became available is alerted to a waiting critical one)."""
        user_id, status = payload.get("user_id"), str(payload.get("status"))
        changed = False
        for client in list(self.clients):
            if client.user_id == user_id:
                if client.status == status:
                    continue  # this console knows (it set it, or its opening did)
                client.status = status
                changed = True
                await self._send(
                    client, {"type": "status", "status": status, "auto": bool(payload.get("auto"))}
                )
            elif client.role in SUPERVISOR_ROLES:
                await self._send(client, {"type": "staff_status", "user_id": user_id, "status": status})
        return changed

    async def _alert_holder_and_supervisors(self, payload: dict[str, Any]) -> None:
        holder = payload.get("assigned_to")
        targets = [c for c in self.clients if c.user_id == holder or c.role in SUPERVISOR_ROLES]
        if not targets:
            return
        name = ""
        if any(c.user_id != holder for c in targets) and isinstance(holder, int):
            try:
                async with self.db.session() as session:
                    user = await session.get(StaffUser, holder)
                    name = (user.display_name or user.username) if user is not None else ""
            except Exception as exc:  # the alert goes out without the name
                log.warning("could not read the holder of a critical conversation (%s)", type(exc).__name__)
        alert = {
            "type": "alert",
            "priority": "critical",
            "conversation_id": payload.get("conversation_id"),
            "assigned": True,
            "intent": payload.get("intent"),
            "channel": payload.get("channel"),
        }
        for client in targets:
            yours = client.user_id == holder
            await self._send(client, {**alert, "yours": yours, "holder": "" if yours else name})

    async def _look_again(
        self, client: Client, waiting: list[dict[str, Any]], load: int, spoken: set[str] | frozenset[str]
    ) -> None:
        """Alerts, the banner and offers as the queue now stands for this console."""
        # A critical conversation waiting that this console has not been alerted to (it connected
        # after the alert, or its live feed was interrupted when the alert went out): alert now,
        # so that nobody misses one because of when they looked.
        waits = {e["conversation_id"] for e in waiting if e["priority"] == "critical"}
        critical = waits = waits | (client.alerted & self._unread)
        if not client.attending:
            critical = set()  # on a break or away: alerted when available again
        for conversation_id in sorted(critical - client.alerted):
            client.banner = True
            await self._send(
                client, {"type": "alert", "priority": "critical", "conversation_id": conversation_id}
            )
        client.alerted = critical  # one that leaves the queue and comes back critical alerts again
        if client.banner and not waits:
            client.banner = False
            await self._send(client, {"type": "alert_clear"})
        await self._offer_new(client, waiting, load, spoken)

    async def _offer_new(
        self, client: Client, waiting: list[dict[str, Any]], load: int, spoken: set[str] | frozenset[str]
    ) -> None:
        """Tell an attending console of each conversation that joined the queue since its last
        snapshot (not of those already there when it connected): with free capacity, or critical.
        One in a language that someone on duty with room speaks goes to those who speak it (the
        others hear of it with the wait reminder); a critical one goes to everyone."""
        known, client.known = client.known, {e["conversation_id"] for e in waiting}
        if known is None or not client.attending:
            return
        for entry in waiting:
            if entry["conversation_id"] in known:
                continue
            language = languages.matched(str(entry.get("language") or ""))
            yours = language in client.languages
            if entry["priority"] != "critical" and language in spoken and not yours:
                continue  # offered first to a colleague who speaks it
            if entry["priority"] == "critical" or load < client.capacity:
                await self._send(
                    client,
                    {
                        "type": "new_conversation",
                        **{
                            k: entry.get(k)
                            for k in ("conversation_id", "priority", "intent", "channel", "language")
                        },
                        "your_language": yours,
                    },
                )
