"""Splitting a long reply into Telegram messages (at most 4096 UTF-16 code units each)."""

from __future__ import annotations

import re
from typing import Final

MAX_MESSAGE_LENGTH: Final = 4096
"""Telegram's limit for one text message, counted in UTF-16 code units."""


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


_BOUNDARY_RE = re.compile(r"[.!?…]+[\"'”’»)\]]*[ \t]+|[ \t]*\n\s*")
_WORD_RE = re.compile(r"\S+\s*|\s+")


def _sentences(text: str) -> list[str]:
    """Pieces of ``text``, each ending after a sentence end (with its whitespace) or a line break.

    A full stop followed by a lower-case letter (``t.ex. något``) is not taken as a sentence end.
    """
    pieces: list[str] = []
    start = 0
    for match in _BOUNDARY_RE.finditer(text):
        end = match.end()
        if "\n" not in match.group() and end < len(text) and text[end].islower():
            continue
        pieces.append(text[start:end])
        start = end
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _hard_split(word: str, limit: int) -> list[str]:
    out: list[str] = []
    current = ""
    for char in word:
        if utf16_len(current + char) > limit:
            out.append(current)
            current = ""
        current += char
    if current:
        out.append(current)
    return out


def split_message(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` UTF-16 units: on sentence boundaries, else on
    word boundaries, else (one enormous word) anywhere between characters."""
    text = text.strip()
    if utf16_len(text) <= limit:
        return [text] if text else []
    units: list[str] = []
    for sentence in _sentences(text):
        if utf16_len(sentence.rstrip()) <= limit:
            units.append(sentence)
            continue
        for word in _WORD_RE.findall(sentence):
            if utf16_len(word.rstrip()) <= limit:
                units.append(word)
            else:
                units.extend(_hard_split(word.rstrip(), limit))
    parts: list[str] = []
    current = ""
    for unit in units:
        if current and utf16_len((current + unit).rstrip()) > limit:
            parts.append(current.strip())
            current = ""
        current += unit
    if current.strip():
        parts.append(current.strip())
    return [p for p in parts if p]
