"""How many SMS a text costs, and its parts when we send them one by one.

A text that fits the GSM 03.38 7-bit alphabet (the basic set: Latin letters, digits, most
punctuation, å ä ö Å Ä Ö é ü and more) is sent in GSM-7: 160 characters in one SMS, 153 per part
of a longer (concatenated) message; a character of the extension table (``^ { } \\ [ ] ~ | €`` and
form feed) takes two.  Any other character (Arabic, Persian, Tigrinya, emoji, ``ç`` …) makes the
whole text UCS-2: 70 UTF-16 units in one SMS, 67 per part, an emoji outside the basic plane taking
two units.  A part never ends in the middle of an escape pair or a surrogate pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION: Final = frozenset("^{}\\[~]|€\f")

GSM7: Final = "gsm7"
UCS2: Final = "ucs2"
LIMITS: Final = {GSM7: (160, 153), UCS2: (70, 67)}
"""Units in one SMS alone, and in each part of a concatenated message."""


@dataclass(frozen=True, slots=True)
class Segments:
    encoding: str
    """``gsm7`` or ``ucs2``."""
    units: int
    """Septets (GSM-7) or UTF-16 code units (UCS-2) the text takes."""
    count: int
    """SMS the text costs as one concatenated message (0 for an empty text)."""


def encoding_of(text: str) -> str:
    return GSM7 if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else UCS2


def _unit(char: str, encoding: str) -> int:
    if encoding == GSM7:
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def count(text: str) -> Segments:
    """The encoding of ``text``, the units it takes and the SMS it costs."""
    encoding = encoding_of(text)
    units = sum(_unit(c, encoding) for c in text)
    single, part = LIMITS[encoding]
    if units == 0:
        return Segments(encoding, 0, 0)
    if units <= single:
        return Segments(encoding, units, 1)
    n, filled = 1, 0
    for char in text:  # a pair is never split, so a part may hold one unit less
        size = _unit(char, encoding)
        if filled + size > part:
            n, filled = n + 1, 0
        filled += size
    return Segments(encoding, units, n)


def split(text: str) -> list[str]:
    """``text`` as single SMS of at most 160 (GSM-7) or 70 (UCS-2) units each, cut after a space
    where one is near the end of a part, for a provider that takes no concatenated messages."""
    encoding = encoding_of(text)
    single = LIMITS[encoding][0]
    parts: list[str] = []
    rest = text
    while rest:
        filled, end = 0, 0
        for char in rest:
            size = _unit(char, encoding)
            if filled + size > single:
                break
            filled += size
            end += 1
        if end < len(rest):
            space = rest.rfind(" ", 0, end)
            if space >= end * 3 // 4:
                end = space + 1
        parts.append(rest[:end])
        rest = rest[end:]
    return parts
