"""The critical lexicon per language (``nlu/data/risk_lexicon.yml``): a safety net for danger
written in a language no model of ours understands well.

Each language has phrases per category (self_intent, self_means, farewell, violence, weapon,
time, threatened).  Text and phrases are normalised the same way (lowercase, diacritics and
Arabic short vowels removed, alef/yeh/kaf variants unified), then a phrase matches as a
substring; a phrase in Latin or Cyrillic letters must start a word, so that a short word does not
match inside a longer harmless one.  Scores are combined in :mod:`nlu.risk`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nlu.language import strip_marks
from nlu.text import fold

log = logging.getLogger(__name__)

LEXICON_PATH = Path(__file__).resolve().parent / "data" / "risk_lexicon.yml"
CATEGORIES = ("self_intent", "self_means", "farewell", "violence", "weapon", "time", "threatened", "negation")


def normalise(text: str) -> str:
    return strip_marks(fold(text))


@dataclass
class LexiconHits:
    labels: list[str] = field(default_factory=list)
    self_intent: int = 0
    self_means: int = 0
    farewell: int = 0
    violence: int = 0
    weapon: int = 0
    time: int = 0
    threatened: int = 0


def _compile(phrases: list[str]) -> re.Pattern[str] | None:
    alts = []
    for p in sorted({normalise(str(x)) for x in phrases if str(x).strip()}, key=lambda s: (-len(s), s)):
        esc = re.escape(p)
        # Latin and Cyrillic phrases start a word; Arabic-script and Ethiopic ones are substrings
        # (prefixes such as و and ب are written together with the word).
        alts.append(rf"(?<!\w){esc}" if re.match(r"[a-z\u0400-\u04ff]", p) else esc)
    return re.compile("|".join(alts)) if alts else None


class RiskLexicon:
    def __init__(self, data: dict[str, dict[str, list[str]]]) -> None:
        self._rx: dict[str, dict[str, re.Pattern[str]]] = {}
        for lang, cats in data.items():
            compiled: dict[str, re.Pattern[str]] = {}
            for cat, phrases in (cats or {}).items():
                if cat not in CATEGORIES:
                    raise ValueError(f"risk lexicon {lang}: unknown category {cat!r}")
                rx = _compile(list(phrases or []))
                if rx is not None:
                    compiled[cat] = rx
            self._rx[lang] = compiled

    @classmethod
    def load(cls, path: str | Path | None = None) -> RiskLexicon:
        doc: Any = yaml.safe_load(Path(path or LEXICON_PATH).read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or not isinstance(doc.get("languages"), dict):
            raise ValueError("risk lexicon: expected a mapping with a 'languages' mapping")
        return cls(doc["languages"])

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self._rx))

    def match(self, text: str, language: str) -> LexiconHits:
        """Hits of ``language``'s lexicon in ``text``; for an unknown language, of every lexicon."""
        hits = LexiconHits()
        norm = normalise(text)
        langs = [language] if language in self._rx else list(self._rx)
        for lang in langs:
            cats = self._rx[lang]
            neg = cats.get("negation")
            for cat, rx in cats.items():
                if cat == "negation":
                    continue
                m = rx.search(norm)
                if m is None:
                    continue
                if neg is not None and cat in ("self_intent", "violence") and _negated(norm, m.start(), neg):
                    continue
                setattr(hits, cat, getattr(hits, cat) + 1)
                hits.labels.append(f"{_GROUP[cat]}:{m.group(0)}")
        return hits


def _negated(norm: str, start: int, neg: re.Pattern[str]) -> bool:
    """A negation word within the few characters before a match ("I would never kill myself")."""
    return neg.search(norm[max(0, start - 16) : start]) is not None


_GROUP = {
    "self_intent": "self",
    "self_means": "means",
    "farewell": "farewell",
    "violence": "violence",
    "weapon": "weapon",
    "time": "time",
    "threatened": "threatened",
}

_default: RiskLexicon | None = None


def default_lexicon() -> RiskLexicon:
    """The shipped lexicon (an empty one, with a warning, if the file is missing)."""
    global _default
    if _default is None:
        try:
            _default = RiskLexicon.load()
        except FileNotFoundError:
            log.warning("risk lexicon %s missing: other languages have no critical lexicon", LEXICON_PATH)
            _default = RiskLexicon({})
    return _default
