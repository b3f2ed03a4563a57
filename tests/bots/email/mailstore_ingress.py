"""A small but real ingress for the e-mail tests, until gateway.pipeline lands.

It stores envelopes durably in SQLite with a unique ``(channel, external_id)`` key, keeps one open
conversation per pseudonym, honours an e-mail thread hint only when the conversation belongs to
the same pseudonym (the contract of gateway.channel), and answers ``IngressResult(duplicate=...)``.
Several processes may share the file.

For the crash tests it can be made to hang before or after storing (``hang``), touching ``marker``
when it gets there; ``fail_times`` makes the first calls fail like a store that is down;
``reject_empty`` refuses empty messages for good (InvalidInput).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.channel import IngressResult
from gateway.envelope import ConversationId, Envelope, MessageId, Priority
from gateway.errors import InvalidInput, StoreUnavailable

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    external_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    envelope TEXT NOT NULL,
    UNIQUE (channel, external_id)
);
"""


@dataclass(frozen=True)
class Stored:
    conversation_id: str
    address: str
    envelope: Envelope
    raw_json: str


class SqliteIngress:
    def __init__(
        self,
        path: Path,
        *,
        hang: str | None = None,
        marker: Path | None = None,
        fail_times: int = 0,
        reject_empty: bool = False,
        down: bool = False,
    ) -> None:
        self.path = Path(path)
        self.hang = hang
        self.marker = marker
        self.fail_times = fail_times
        self.reject_empty = reject_empty
        self.down = down
        """While True every call fails like a store that is down."""
        self.calls = 0
        self.results: list[IngressResult] = []
        with contextlib.closing(self._connect()) as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    async def __call__(self, envelope: Envelope, address: str) -> IngressResult:
        self.calls += 1
        if self.hang == "before":
            self._touch_marker()
            await asyncio.Event().wait()
        if self.down:
            raise StoreUnavailable("store is down")
        if self.fail_times > 0:
            self.fail_times -= 1
            raise StoreUnavailable("store is down")
        if self.reject_empty and not envelope.text.strip() and not envelope.attachments:
            raise InvalidInput("empty message")
        result = await asyncio.to_thread(self._store, envelope, address)
        if self.hang == "after":
            self._touch_marker()
            await asyncio.Event().wait()
        self.results.append(result)
        return result

    def _touch_marker(self) -> None:
        if self.marker is not None:
            self.marker.write_text("reached")

    def _store(self, envelope: Envelope, address: str) -> IngressResult:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT message_id, conversation_id FROM messages WHERE channel = ? AND external_id = ?",
                (envelope.channel, envelope.external_id),
            ).fetchone()
            if row is not None:
                db.execute("COMMIT")
                return IngressResult(
                    ConversationId(row[1]),
                    MessageId(row[0]),
                    duplicate=True,
                    priority=Priority.NORMAL,
                    state="bot",
                )
            conversation_id: str | None = None
            if envelope.conversation_id:
                hit = db.execute(
                    "SELECT id FROM conversations WHERE id = ? AND sender = ? AND state = 'open'",
                    (envelope.conversation_id, envelope.sender),
                ).fetchone()
                conversation_id = hit[0] if hit else None
            if conversation_id is None:
                hit = db.execute(
                    "SELECT id FROM conversations WHERE sender = ? AND channel = ? AND state = 'open'",
                    (envelope.sender, envelope.channel),
                ).fetchone()
                conversation_id = hit[0] if hit else None
            if conversation_id is None:
                conversation_id = uuid.uuid4().hex
                db.execute(
                    "INSERT INTO conversations (id, sender, channel, address, state) VALUES (?, ?, ?, ?, 'open')",
                    (conversation_id, envelope.sender, envelope.channel, address),
                )
            db.execute(
                "INSERT INTO messages (message_id, channel, external_id, conversation_id, envelope) VALUES (?, ?, ?, ?, ?)",
                (
                    envelope.message_id,
                    envelope.channel,
                    envelope.external_id,
                    conversation_id,
                    envelope.to_json(),
                ),
            )
            db.execute("COMMIT")
            return IngressResult(
                ConversationId(conversation_id),
                envelope.message_id,
                duplicate=False,
                priority=Priority.NORMAL,
                state="bot",
            )
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def stored(self) -> list[Stored]:
        with contextlib.closing(self._connect()) as db:
            rows = db.execute(
                "SELECT m.conversation_id, c.address, m.envelope FROM messages m "
                "JOIN conversations c ON c.id = m.conversation_id ORDER BY m.seq"
            ).fetchall()
        return [Stored(r[0], r[1], Envelope.from_json(r[2]), r[2]) for r in rows]

    def count(self, external_id: str | None = None) -> int:
        with contextlib.closing(self._connect()) as db:
            if external_id is None:
                return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])
            return int(
                db.execute("SELECT count(*) FROM messages WHERE external_id = ?", (external_id,)).fetchone()[
                    0
                ]
            )

    def dump(self) -> list[dict[str, Any]]:
        return [json.loads(s.raw_json) for s in self.stored()]
