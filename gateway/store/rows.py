"""Conversations and messages as plain rows, for the writes of a batch (:mod:`gateway.batch`).

The busiest writes of the gateway (every incoming message, every reply) run in batches of up to
64 items.  Through the ORM's unit of work each item would cost an object with instrumented
attributes, a flush and an identity map entry.  Here a batch reads its conversations with one
Core ``SELECT ... FOR UPDATE`` into :class:`ConversationRow` values, changes them in Python and
writes them back with one ``executemany`` UPDATE, and inserts its messages with one
``executemany`` INSERT.  The SQL types (JSON, UTC datetimes) are the models' own.

The rules of what a message does to its conversation stay in :mod:`gateway.pipeline`; this module
only reads and writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import String, Table, TextClause, bindparam, insert, select, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.envelope import Envelope
from gateway.store.models import ContactRecord, Conversation, ConversationState, Message

CONVERSATIONS: Table = Conversation.__table__  # type: ignore[assignment]
MESSAGES: Table = Message.__table__  # type: ignore[assignment]
CONTACTS: Table = ContactRecord.__table__  # type: ignore[assignment]

OPEN_STATES = (ConversationState.BOT.value, ConversationState.QUEUED.value, ConversationState.ASSIGNED.value)

MUTABLE = (
    "state",
    "priority",
    "intent",
    "language",
    "queued_at",
    "last_message_at",
    "message_count",
    "meta",
)
"""The columns a batch changes; everything else of a conversation is written elsewhere."""


@dataclass(slots=True)
class ConversationRow:
    """A conversation's columns as plain values (the attributes of :class:`Conversation`)."""

    id: str
    channel: str
    pseudonym: str
    state: str
    priority: int
    intent: str | None
    language: str
    created_at: datetime
    queued_at: datetime | None
    assigned_to: int | None
    assigned_at: datetime | None
    first_assigned_at: datetime | None
    closed_at: datetime | None
    last_message_at: datetime
    message_count: int
    unreachable: bool
    resume_code_hash: str | None
    meta: dict[str, Any]

    @classmethod
    def of(cls, conv: Conversation) -> ConversationRow:
        return cls(**{name: getattr(conv, name) for name in _FIELDS})

    @classmethod
    def from_mapping(cls, row: Mapping[Any, Any]) -> ConversationRow:
        return cls(**{name: row[name] for name in _FIELDS})

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}


_FIELDS = tuple(f.name for f in fields(ConversationRow))
assert set(_FIELDS) == {c.key for c in CONVERSATIONS.columns}, "ConversationRow is out of step with the model"

_LOCK = select(CONVERSATIONS).order_by(CONVERSATIONS.c.id).with_for_update(key_share=True)  # see repo
_LOCK_IDS = _LOCK.where(CONVERSATIONS.c.id.in_(bindparam("ids", expanding=True)))
_UPDATE = update(CONVERSATIONS).where(CONVERSATIONS.c.id == bindparam("row_id"))


async def lock_conversations(session: AsyncSession, ids: Iterable[str]) -> dict[str, ConversationRow]:
    """The conversations of ``ids`` that exist, locked for this transaction (in id order)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    result = await session.execute(_LOCK_IDS, {"ids": wanted})
    return {row["id"]: ConversationRow.from_mapping(row) for row in result.mappings()}


async def insert_conversations(session: AsyncSession, convs: Sequence[ConversationRow]) -> None:
    if convs:
        await session.execute(insert(CONVERSATIONS), [conv.values() for conv in convs])


def contact_row(conversation_id: str, channel: str, ciphertext: bytes, at: datetime) -> dict[str, Any]:
    """A new conversation's contact record (the address encrypted), as :class:`Writes` inserts it."""
    return {
        "conversation_id": conversation_id,
        "channel": channel,
        "ciphertext": ciphertext,
        "created_at": at,
    }


async def insert_contacts(session: AsyncSession, contacts: Sequence[dict[str, Any]]) -> None:
    if contacts:
        await session.execute(insert(CONTACTS), list(contacts))


def snapshot(conv: ConversationRow) -> tuple[Any, ...]:
    """The values of the columns a batch may change, to tell afterwards which it did change."""
    return tuple(getattr(conv, name) for name in MUTABLE)


async def update_conversations(
    session: AsyncSession, convs: Iterable[tuple[ConversationRow, tuple[Any, ...]]]
) -> None:
    """Write what changed in each conversation since its ``snapshot``.

    Only changed columns are set (an index on a column left alone is not rewritten); the
    conversations that changed the same columns (most often just the count and the time of the
    last message) go in one ``executemany``.
    """
    for params in changes(convs).values():
        await session.execute(_UPDATE, params)


def changes(
    convs: Iterable[tuple[ConversationRow, tuple[Any, ...]]],
) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """What changed in each conversation since its ``snapshot``, grouped by the columns changed:
    the parameters of one UPDATE per group (``row_id`` and the new values)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for conv, before in convs:
        changed = {
            name: value
            for name, old in zip(MUTABLE, before, strict=True)
            if (value := getattr(conv, name)) != old
        }
        if changed:
            groups.setdefault(tuple(changed), []).append({"row_id": conv.id, **changed})
    return groups


def message_row(
    envelope: Envelope,
    conversation_id: str,
    seq: int,
    *,
    author_id: int | None = None,
    triage: dict[str, Any] | None = None,
    delivery: str | None = None,
) -> dict[str, Any]:
    """A ``messages`` row of ``envelope`` at position ``seq`` of its conversation."""
    return {
        "id": envelope.message_id,
        "conversation_id": conversation_id,
        "seq": seq,
        "direction": envelope.direction.value,
        "sender_kind": envelope.sender_kind.value,
        "author_id": author_id,
        "channel": envelope.channel,
        "external_id": envelope.external_id,
        "text": envelope.text,
        "attachments": [a.to_dict() for a in envelope.attachments],
        "triage": triage,
        "meta": dict(envelope.meta),
        "created_at": envelope.received_at,
        "delivery": delivery,
        "delivered_at": None,
    }


async def insert_messages(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(MESSAGES), list(rows))


MESSAGE_DATA_KEYS = (
    "id",
    "conversation_id",
    "seq",
    "direction",
    "sender_kind",
    "author_id",
    "text",
    "attachments",
    "triage",
    "created_at",
    "delivery",
)


def message_data(row: Mapping[str, Any]) -> dict[str, Any]:
    """A message row as live events, web chat resume and the console carry it."""
    return {
        "id": row["id"],
        "conversation_id": row["conversation_id"],
        "seq": row["seq"],
        "direction": row["direction"],
        "sender_kind": row["sender_kind"],
        "author_id": row["author_id"],
        "text": row["text"],
        "attachments": row["attachments"],
        "triage": row["triage"],
        "created_at": row["created_at"].isoformat(),
        "delivery": row["delivery"],
    }


# A person's typing and receipts, a counsellor's typing and the console's access check each peek at
# their conversation: the commonest reads of the gateway after the batches' (three to four per round
# trip).  Read in Core on an engine connection, without an ORM session, identity map or instance.
_OPEN_OF = select(CONVERSATIONS).where(
    CONVERSATIONS.c.channel == bindparam("channel"),
    CONVERSATIONS.c.pseudonym == bindparam("pseudonym"),
    CONVERSATIONS.c.state.in_(OPEN_STATES),
)
_OPEN_HINTED = _OPEN_OF.where(CONVERSATIONS.c.id == bindparam("hint"))
_OPEN_LATEST = _OPEN_OF.order_by(CONVERSATIONS.c.created_at.desc()).limit(1)
_BY_ID = select(CONVERSATIONS).where(CONVERSATIONS.c.id == bindparam("conversation_id"))


async def peek_open(
    conn: AsyncConnection, channel: str, pseudonym: str, hint: str | None = None
) -> ConversationRow | None:
    """The person's open conversation (the hinted one if it is theirs and open, else their latest),
    read without a lock: for signals that change nothing stored."""
    params = {"channel": channel, "pseudonym": pseudonym}
    if hint:
        row = (await conn.execute(_OPEN_HINTED, {**params, "hint": hint})).mappings().first()
        if row is not None:
            return ConversationRow.from_mapping(row)
    row = (await conn.execute(_OPEN_LATEST, params)).mappings().first()
    return None if row is None else ConversationRow.from_mapping(row)


async def peek(conn: AsyncConnection, conversation_id: str) -> ConversationRow | None:
    """A conversation by id, read without a lock."""
    row = (await conn.execute(_BY_ID, {"conversation_id": conversation_id})).mappings().first()
    return None if row is None else ConversationRow.from_mapping(row)


# PostgreSQL: a batch's writes in one statement -----------------------------------------------
#
# A batch ends with its messages inserted, its conversations updated and its outbox rows inserted:
# three statements, each a round trip that waits for a turn of a busy loop and about 90 µs of CPU
# through SQLAlchemy.  On PostgreSQL the three are one statement of data-modifying CTEs, each
# reading its rows from arrays (``unnest``), so that the statement's text depends only on which
# columns are written, never on the number of rows: it is compiled and prepared once.  SQLite
# runs each statement on the loop, without a round trip, and keeps the three.
#
# Every array is text[], each value converted in the statement: asyncpg looks up any other array
# type in the server's catalogue the first time a connection meets it (6-8 ms each, measured),
# which a critical message stored on a new connection would wait for.  A string column takes its
# text by assignment, which refuses a value longer than the column (an explicit cast to
# VARCHAR(n) would cut it silently; a refused value becomes a dead letter, gateway.deadletter).


def _from_text(table: Table, name: str, dialect: Dialect) -> str:
    """Column ``name`` of the arrays' row ``v`` as the column's type."""
    column_type = table.c[name].type
    if isinstance(column_type, String):  # Text included
        return f"v.{name}"
    return f"CAST(v.{name} AS {column_type.compile(dialect=dialect)})"


def _insert_part(table: Table, names: Sequence[str], prefix: str, dialect: Dialect) -> str:
    # Every name is a column of ``table`` (``_from_text`` looks each up): no text from outside.
    arrays = ", ".join(f"CAST(:{prefix}_{name} AS TEXT[])" for name in names)
    converted = ", ".join(_from_text(table, name, dialect) for name in names)
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) "  # noqa: S608
        f"SELECT {converted} FROM unnest({arrays}) AS v({', '.join(names)})"
    )


def _update_part(names: Sequence[str], k: int, dialect: Dialect) -> str:
    # Every name is a column of conversations (``_from_text`` looks each up): no text from outside.
    sets = ", ".join(f"{name} = {_from_text(CONVERSATIONS, name, dialect)}" for name in names)
    arrays = ", ".join(f"CAST(:u{k}_{name} AS TEXT[])" for name in ("row_id", *names))
    return (
        f"UPDATE conversations SET {sets} FROM unnest({arrays}) AS v(row_id, {', '.join(names)}) "  # noqa: S608
        "WHERE conversations.id = v.row_id"
    )


def _as_text(value: Any) -> str | None:
    """A bound value as the text PostgreSQL reads back into its column's type."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()  # bytea's hex input form
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


_TOGETHER: dict[tuple[Any, ...], TextClause] = {}


def _together_text(shape: tuple[Any, ...], dialect: Dialect) -> TextClause:
    found = _TOGETHER.get(shape)
    if found is None:
        (message_names, update_names, inserts) = shape
        parts = []
        if message_names:
            parts.append(_insert_part(MESSAGES, message_names, MESSAGES.name, dialect))
        parts.extend(_update_part(names, k, dialect) for k, names in enumerate(update_names))
        parts.extend(_insert_part(table, names, table.name, dialect) for table, names in inserts)
        ctes = ", ".join(f"w{k} AS ({part})" for k, part in enumerate(parts))
        found = _TOGETHER[shape] = text(f"WITH {ctes} SELECT 1")
    return found


_PROCESSORS: dict[tuple[str, tuple[str, ...]], list[Any]] = {}


def _processors(table: Table, names: Sequence[str], dialect: Dialect) -> list[Any]:
    """The bind processors of ``names`` (the JSON columns' serializer, UTC datetimes), made once:
    every PostgreSQL engine of the gateway is built alike (``Database``), so any one's serve all."""
    key = (table.name, tuple(names))
    found = _PROCESSORS.get(key)
    if found is None:
        found = _PROCESSORS[key] = [
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
        ]
    return found


def _columns_of(
    table: Table, prefix: str, names: Sequence[str], rows: Sequence[Mapping[str, Any]], dialect: Dialect
) -> dict[str, list[Any]]:
    """Each column of ``rows`` as a text array parameter, its values as SQLAlchemy binds them."""
    out: dict[str, list[Any]] = {}
    for name, process in zip(names, _processors(table, names, dialect), strict=True):
        values = [row[name] for row in rows]
        if process is not None:
            values = [process(v) for v in values]
        out[f"{prefix}_{name}"] = [_as_text(v) for v in values]
    return out


async def write_together(
    session: AsyncSession,
    messages: Sequence[dict[str, Any]],
    convs: Iterable[tuple[ConversationRow, tuple[Any, ...]]],
    inserts: Sequence[tuple[Table, Sequence[dict[str, Any]]]],
) -> None:
    """PostgreSQL: insert ``messages``, write what changed in ``convs`` (as
    :func:`update_conversations`) and insert the rows of each of ``inserts`` (new conversations,
    their contacts, the outbox's events), in one statement.  A row inserted here cannot be updated
    in the same statement (its parts see the rows as they were before it): a conversation created
    in the batch is inserted as it stands at the end, never in ``convs``.  The foreign keys are
    checked at the statement's end, so that a message may name a conversation inserted beside it."""
    dialect = session.get_bind().dialect
    groups = changes(convs)
    message_names = tuple(messages[0]) if messages else ()
    filled = [(table, tuple(rows_of[0]), rows_of) for table, rows_of in inserts if rows_of]
    if not message_names and not groups and not filled:
        return
    shape = (message_names, tuple(groups), tuple((table, names) for table, names, _rows in filled))
    params: dict[str, Any] = {}
    if messages:
        params.update(_columns_of(MESSAGES, MESSAGES.name, message_names, messages, dialect))
    for k, (names, rows_of) in enumerate(groups.items()):
        ids = {f"u{k}_row_id": [row["row_id"] for row in rows_of]}
        params.update(ids, **_columns_of(CONVERSATIONS, f"u{k}", names, rows_of, dialect))
    for table, names, inserted in filled:
        params.update(_columns_of(table, table.name, names, inserted, dialect))
    await session.execute(_together_text(shape, dialect), params)
