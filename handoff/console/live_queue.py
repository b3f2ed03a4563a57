"""The queue as one console was told it, and the deltas that bring it up to date.

A console gets the whole queue once (a ``queue`` snapshot, when its socket opens, after the
broker's feed was interrupted, or when it asks because it saw a gap) and then only what changed:
``{"type": "queue_delta", "seq": n, "changes": [...], "load": .., "capacity": ..}``, each change
``{"op": "added" | "changed" | "removed", "list": "waiting" | "mine", "conversation_id": ..,
"entry": {..}}`` (no entry when removed).  Frames of one socket are numbered: a snapshot carries
the number the next delta follows, and a console that sees a delta out of sequence asks for a
snapshot (``{"type": "snapshot"}`` on the socket).

Sending every console the whole queue on every queue event cost each console a read, an encoding
and a frame of the whole waiting list per message (issue #18); a delta is one conversation's row.
The view is kept per console (what that socket was told), so a console that connected between an
event and its read is never left behind by a comparison made for the others.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .data import QueueRow

PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "critical": 3}
_CLOCK = "waiting_seconds"
"""Changes every time it is read: not a change of the row (the page counts the wait itself)."""


def _same(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    return len(old) == len(new) and all(k == _CLOCK or old.get(k) == v for k, v in new.items())


def waiting_order(entry: Mapping[str, Any]) -> tuple[int, str, str]:
    """The queue's order (:func:`handoff.console.data.queue_snapshot`): priority, then waiting time."""
    return (
        -PRIORITY_RANK.get(str(entry.get("priority")), 0),
        str(entry.get("queued_at") or ""),
        str(entry.get("conversation_id")),
    )


class Encoded:
    """Each change encoded once per batch, whichever consoles it goes to."""

    def __init__(self) -> None:
        self._done: dict[tuple[str, str, str], str] = {}

    def change(self, op: str, which: str, conversation_id: str, entry: Mapping[str, Any] | None) -> str:
        key = (op, which, conversation_id)
        text = self._done.get(key)
        if text is None:
            change: dict[str, Any] = {"op": op, "list": which, "conversation_id": conversation_id}
            if entry is not None:
                change["entry"] = entry
            text = self._done[key] = json.dumps(change)
        return text


@dataclass
class QueueView:
    seq: int = 0
    """The number of the last queue frame sent to this socket."""
    waiting: dict[str, dict[str, Any]] = field(default_factory=dict)
    mine: dict[str, dict[str, Any]] = field(default_factory=dict)
    read: int = 0
    """The number of the read of the last snapshot sent (the hub numbers its reads)."""

    def reset(self, waiting: Iterable[dict[str, Any]], mine: Iterable[dict[str, Any]], read: int) -> int:
        """A snapshot is sent: the view is what it holds.  Returns the snapshot's number."""
        self.waiting = {e["conversation_id"]: e for e in waiting}
        self.mine = {e["conversation_id"]: e for e in mine}
        self.read = read
        self.seq += 1
        return self.seq

    def waiting_list(self) -> list[dict[str, Any]]:
        return sorted(self.waiting.values(), key=waiting_order)

    def changes(self, rows: Mapping[str, QueueRow], user_id: int, encoded: Encoded) -> list[str]:
        """Bring the view up to date with these rows; the changes (encoded) that tell the console."""
        out: list[str] = []
        for conversation_id, row in rows.items():
            for which, held, new in (
                ("waiting", self.waiting, row.waiting),
                ("mine", self.mine, row.mine if row.holder == user_id else None),
            ):
                old = held.get(conversation_id)
                if new is None:
                    if old is not None:
                        del held[conversation_id]
                        out.append(encoded.change("removed", which, conversation_id, None))
                elif old is None or not _same(old, new):
                    held[conversation_id] = new
                    op = "added" if old is None else "changed"
                    out.append(encoded.change(op, which, conversation_id, new))
        return out

    def delta(self, changes: list[str], capacity: int) -> str:
        """The frame of these changes, numbered next."""
        self.seq += 1
        return (
            f'{{"type": "queue_delta", "seq": {self.seq}, "changes": [{", ".join(changes)}], '
            f'"load": {len(self.mine)}, "capacity": {int(capacity)}}}'
        )
