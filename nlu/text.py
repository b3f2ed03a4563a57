"""Text normalisation shared by the classifier, the rules and language detection.

Everything downstream works on *folded* text: lowercase, diacritics removed (å→a, ä→a, ö→o,
é→e ...), typographic quotes and dashes unified and whitespace collapsed, so that a message typed
without å/ä/ö on a foreign keyboard looks the same as one typed with them.
"""

from __future__ import annotations

import re
import unicodedata

_SPECIAL = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "ø": "o",
        "œ": "oe",
        "ł": "l",
        "đ": "d",
        "\u2019": "'",
        "\u2018": "'",
        "\u00b4": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
    }
)
_SPACE = re.compile(r"\s+")
_REPEAT = re.compile(r"(.)\1{2,}")
TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def fold(text: str) -> str:
    """Lowercase, strip diacritics, unify quotes, squeeze letters repeated 3+ times, collapse spaces."""
    lowered = text.lower().translate(_SPECIAL)
    decomposed = unicodedata.normalize("NFKD", lowered)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    squeezed = _REPEAT.sub(r"\1\1", stripped)
    return _SPACE.sub(" ", squeezed).strip()


def tokens(folded: str) -> list[str]:
    """Word tokens of already folded text."""
    return TOKEN.findall(folded)
