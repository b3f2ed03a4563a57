"""Signed-in staff sessions remembered for a moment, so that not every console request reads them.

Every request of the console carries the session cookie, and reading the session and its user was a
transaction of its own on every request: on SQLite about a quarter of a plain read's CPU, and a
third of the requests a page makes per message are such reads.  :class:`SessionCache` keeps what
that read found for ``console.session_cache_seconds`` (2 s by default; 0 turns it off).

What keeps it true:

* **A change in this process empties it at once.**  Any statement that inserts, updates or deletes
  a staff user or session, through any engine or session of this process (the console's routes, the
  admin pages, ``helpline users`` run in the same process in tests), bumps a generation counter
  before it runs and again when its transaction commits; an entry of an older generation is not
  used.  So a logout, an ended session, a disabled account, a changed role or language is seen by
  the next request.
* **A change in another process is seen within the TTL**: another gateway of a fleet, or
  ``helpline users disable`` from a shell.  The live socket's session recheck (every 3 s) already
  worked to that bound.
* **Each request gets its own copy** of the user and session rows (detached ORM instances made from
  the remembered columns), never an instance another request holds.
* An expired session is refused from the cache as from the store (its expiry is checked on use).
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Delete, Insert, Update, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import make_transient_to_detached

from gateway.envelope import utcnow
from gateway.store.models import StaffSession, StaffUser

STAFF_TABLES = frozenset({StaffUser.__tablename__, StaffSession.__tablename__})
MAX_ENTRIES = 10_000

_generation = 0


def generation() -> int:
    return _generation


def _bump() -> None:
    global _generation
    _generation += 1


def _writes_staff(clause: Any) -> bool:
    if not isinstance(clause, Insert | Update | Delete):
        return False
    table = getattr(clause, "table", None)
    return getattr(table, "name", None) in STAFF_TABLES


_changed: weakref.WeakSet[Connection] = weakref.WeakSet()
"""Connections whose transaction wrote a staff row (not ``Connection.info``: reading that on a
connection the server dropped tries to reconnect inside the rollback)."""


@event.listens_for(Engine, "before_execute")
def _before_execute(conn: Connection, clause: Any, multiparams: Any, params: Any, options: Any) -> None:
    # Every statement of every engine passes here (the ORM's flushes included); a cheap test.
    if _writes_staff(clause):
        _bump()
        _changed.add(conn)


@event.listens_for(Engine, "commit")
def _on_commit(conn: Connection) -> None:
    # Bumped again at commit: a read that filled an entry between the statement and the commit
    # saw the old rows under the new generation.
    if conn in _changed:
        _changed.discard(conn)
        _bump()


@event.listens_for(Engine, "rollback")
def _on_rollback(conn: Connection) -> None:
    _changed.discard(conn)


def _columns(obj: Any) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__mapper__.column_attrs}


def _detached(cls: type[Any], values: dict[str, Any]) -> Any:
    # Made as the ORM makes a loaded row (no constructor: it instruments each keyword, four times
    # the cost on every request), its values as the state it was read with.
    obj = cls.__mapper__.class_manager.new_instance()
    obj.__dict__.update(values)
    make_transient_to_detached(obj)
    return obj


@dataclass(slots=True)
class _Entry:
    user: dict[str, Any]
    row: dict[str, Any]
    generation: int
    until: float


class SessionCache:
    """Token hash -> the user and session rows its last read found, for ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[str, _Entry] = {}

    def get(self, token_hash: str) -> tuple[StaffUser, StaffSession] | None:
        """Copies of the rows, or None (not remembered, too old, or a staff row changed since)."""
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry.generation != _generation or time.monotonic() >= entry.until:
            del self._entries[token_hash]
            return None
        if entry.row["expires_at"] <= utcnow():
            del self._entries[token_hash]
            return None
        return _detached(StaffUser, entry.user), _detached(StaffSession, entry.row)

    def put(self, token_hash: str, user: StaffUser, row: StaffSession, seen_generation: int) -> None:
        """Remember a read that began at ``seen_generation`` (not if a staff row changed since)."""
        if self.seconds <= 0 or seen_generation != _generation:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()  # many sessions at once: start again rather than grow
        self._entries[token_hash] = _Entry(
            _columns(user), _columns(row), seen_generation, time.monotonic() + self.seconds
        )


__all__ = ["SessionCache", "generation"]
