"""The message envelope: one frozen value that carries a message through the gateway.

An envelope never holds a raw channel identifier (chat id, JID, e-mail address): the person is
known by a keyed pseudonym.  The raw address an adapter needs to answer travels beside the
envelope (``Ingress.__call__(envelope, address)``) and is stored only in the encrypted contact
record.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, NewType

MessageId = NewType("MessageId", str)
ConversationId = NewType("ConversationId", str)
Pseudonym = NewType("Pseudonym", str)


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


class SenderKind(enum.StrEnum):
    PERSON = "person"
    BOT = "bot"
    COUNSELLOR = "counsellor"
    SYSTEM = "system"


class Priority(enum.IntEnum):
    """Triage priority; a conversation's priority is the highest its messages reached."""

    LOW = 0
    NORMAL = 1
    HIGH = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Priority:
        try:
            return cls[label.upper()]
        except KeyError:
            raise ValueError(f"unknown priority {label!r}") from None


_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")
CLEANED_META = "cleaned"
"""Meta key listing what :func:`clean_text` removed from an envelope ("nul", "surrogate")."""


def clean_text(text: str, found: set[str] | None = None) -> str:
    """``text`` without U+0000 and lone surrogates, which no store (PostgreSQL) can keep.

    What was removed is added to ``found`` ("nul", "surrogate")."""
    if _UNSTORABLE_RE.search(text) is None:
        return text
    if found is not None:
        if "\x00" in text:
            found.add("nul")
        if _UNSTORABLE_RE.search(text.replace("\x00", "")) is not None:
            found.add("surrogate")
    return _UNSTORABLE_RE.sub("", text)


def _clean_value(value: Any, found: set[str]) -> Any:
    if isinstance(value, str):
        return clean_text(value, found)
    if isinstance(value, Mapping):
        return {clean_text(str(k), found): _clean_value(v, found) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_value(v, found) for v in value]
    return value


def random_id() -> str:
    """128 random bits as 32 hex digits, the shape of every id here (a quarter of uuid4's cost)."""
    return os.urandom(16).hex()


def new_message_id() -> MessageId:
    return MessageId(random_id())


def new_conversation_id() -> ConversationId:
    return ConversationId(random_id())


def utcnow() -> datetime:
    return datetime.now(UTC)


def pseudonymize(key: bytes, channel: str, address: str) -> Pseudonym:
    """Keyed pseudonym of a channel address: HMAC-SHA256 over ``channel:address``."""
    digest = hmac.new(key, f"{channel}:{address}".encode(), hashlib.sha256).hexdigest()
    return Pseudonym(digest[:40])


@dataclass(frozen=True, slots=True)
class Attachment:
    """Metadata of an attachment; its content is never carried in the envelope."""

    name: str
    content_type: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "content_type": self.content_type, "size": self.size}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Attachment:
        return cls(name=str(data["name"]), content_type=str(data["content_type"]), size=int(data["size"]))


@dataclass(frozen=True, slots=True)
class Envelope:
    message_id: MessageId
    direction: Direction
    channel: str
    sender: Pseudonym
    text: str
    conversation_id: ConversationId | None = None
    attachments: tuple[Attachment, ...] = ()
    received_at: datetime = field(default_factory=utcnow)
    sender_kind: SenderKind = SenderKind.PERSON
    external_id: str | None = None
    """The channel's own id of the message (e-mail Message-ID, Telegram update id): the dedupe key."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Channel-specific, non-identifying metadata (e-mail subject and references, for example)."""

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")
        # U+0000 and lone surrogates can never be stored (PostgreSQL refuses them): removed here, at
        # the one door every channel's message passes, with a note in meta of what was removed.
        found: set[str] = set()
        text = clean_text(self.text, found)
        external_id = clean_text(self.external_id, found) if self.external_id is not None else None
        meta = _clean_value(self.meta, found) if self.meta else self.meta
        attachments = tuple(
            Attachment(clean_text(a.name, found), clean_text(a.content_type, found), a.size)
            for a in self.attachments
        )
        if found:
            meta = dict(meta)
            meta[CLEANED_META] = sorted(found | set(meta.get(CLEANED_META) or ()))
            object.__setattr__(self, "text", text)
            object.__setattr__(self, "external_id", external_id)
            object.__setattr__(self, "meta", meta)
            object.__setattr__(self, "attachments", attachments)

    def with_conversation(self, conversation_id: ConversationId) -> Envelope:
        return replace(self, conversation_id=conversation_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "direction": self.direction.value,
            "channel": self.channel,
            "sender": self.sender,
            "text": self.text,
            "conversation_id": self.conversation_id,
            "attachments": [a.to_dict() for a in self.attachments],
            "received_at": self.received_at.isoformat(),
            "sender_kind": self.sender_kind.value,
            "external_id": self.external_id,
            "meta": dict(self.meta),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Envelope:
        conv = data.get("conversation_id")
        return cls(
            message_id=MessageId(str(data["message_id"])),
            direction=Direction(data["direction"]),
            channel=str(data["channel"]),
            sender=Pseudonym(str(data["sender"])),
            text=str(data["text"]),
            conversation_id=ConversationId(str(conv)) if conv else None,
            attachments=tuple(Attachment.from_dict(a) for a in data.get("attachments", ())),
            received_at=datetime.fromisoformat(str(data["received_at"])),
            sender_kind=SenderKind(data.get("sender_kind", SenderKind.PERSON.value)),
            external_id=data.get("external_id"),
            meta=dict(data.get("meta") or {}),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Envelope:
        return cls.from_dict(json.loads(raw))
