"""Parsing the Bot API's raw updates (not by PTB's ``de_json``: one malformed update is logged and
skipped instead of failing a whole ``getUpdates`` batch)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from bots.telegram.texts import COMMANDS
from gateway import catalogues

# Content a person can send that is not text.  Never downloaded; answered with the person catalogue's "telegram.only_text".
_MEDIA_KINDS: Final = (
    "photo",
    "voice",
    "audio",
    "video",
    "video_note",
    "document",
    "sticker",
    "animation",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
    "paid_media",
    "checklist",
)


class Ignored(Exception):
    """An update we do not act on; the message is a reason without content."""


@dataclass(frozen=True, slots=True)
class Incoming:
    update_id: int
    chat_id: int
    language: str
    text: str | None
    """Text, or the caption of unsupported content."""
    media: str | None
    """Kind of unsupported content (``"photo"`` ...), never its content."""
    edited: bool
    sent_at: datetime | None


def parse_update(data: Any) -> Incoming:
    if not isinstance(data, Mapping):
        raise Ignored("update is not an object")
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise Ignored("update without update_id")
    edited = False
    message = data.get("message")
    if message is None and "edited_message" in data:
        message = data.get("edited_message")
        edited = True
    if message is None:
        kinds = sorted(k for k in data if k != "update_id")[:3]
        raise Ignored(f"update of unhandled type {kinds}")
    if not isinstance(message, Mapping):
        raise Ignored("message is not an object")
    chat = message.get("chat")
    if not isinstance(chat, Mapping):
        raise Ignored("message without chat")
    chat_id = chat.get("id")
    if not isinstance(chat_id, int) or isinstance(chat_id, bool):
        raise Ignored("chat without id")
    if chat.get("type") != "private":
        raise Ignored("message outside a private chat")
    sender = message.get("from")
    language = "sv"
    if isinstance(sender, Mapping):
        if sender.get("is_bot") is True:
            raise Ignored("message from a bot")
        code = sender.get("language_code")
        if isinstance(code, str) and code:
            # The app's language, when the person catalogue has it (ar, so, tr...); else English.
            language = catalogues.pick("person", code)
    sent_at: datetime | None = None
    date = message.get("edit_date") if edited else message.get("date")
    if isinstance(date, int) and not isinstance(date, bool) and date > 0:
        with contextlib.suppress(OverflowError, OSError, ValueError):
            sent_at = datetime.fromtimestamp(date, UTC)
    text = message.get("text")
    if isinstance(text, str):
        return Incoming(update_id, chat_id, language, text, None, edited, sent_at)
    media = next((kind for kind in _MEDIA_KINDS if kind in message), None)
    if media is None:
        raise Ignored("message without text or known content")
    caption = message.get("caption")
    caption = caption if isinstance(caption, str) and caption.strip() else None
    return Incoming(update_id, chat_id, language, caption, media, edited, sent_at)


def parse_command(text: str) -> str | None:
    """The command ``text`` is (``start``, ``stop``, ``help``), or None for ordinary text."""
    if not text.startswith("/"):
        return None
    word = text.split(maxsplit=1)[0][1:]
    word = word.split("@", 1)[0].lower()
    return COMMANDS.get(word)
