"""Safe responses per intent and language (``nlu/data/responses.yml``).

The book is checked when it is loaded and whenever a text is changed: every intent of the schema
has a text in every supported language, critical intents say to call 112, and ``self_harm`` also
gives Mind Självmordslinjen 90101.  A change that breaks this is refused, so an admin cannot
remove the emergency numbers by mistake.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nlu.result import CRITICAL_INTENTS, INTENTS, LANGUAGES

RESPONSES_PATH = Path(__file__).resolve().parent / "data" / "responses.yml"
EMERGENCY_NUMBER = "112"
SUICIDE_LINE_NUMBER = "90101"


class ResponseError(ValueError):
    """The responses are incomplete or would drop a required emergency number."""


def _has_number(text: str, number: str) -> bool:
    return re.search(rf"(?<!\d){number}(?!\d)", text.replace(" ", "")) is not None


def check_response(intent: str, language: str, text: str) -> None:
    """Raise ResponseError if ``text`` is not acceptable as the safe response of ``intent``."""
    if intent not in INTENTS:
        raise ResponseError(f"unknown intent {intent!r}")
    if language not in LANGUAGES:
        raise ResponseError(f"unsupported language {language!r}")
    if not text.strip():
        raise ResponseError(f"{intent}/{language}: empty response")
    if intent in CRITICAL_INTENTS and not _has_number(text, EMERGENCY_NUMBER):
        raise ResponseError(f"{intent}/{language}: a critical response must say to call {EMERGENCY_NUMBER}")
    if intent == "self_harm" and not _has_number(text, SUICIDE_LINE_NUMBER):
        raise ResponseError(f"{intent}/{language}: must give Mind Självmordslinjen {SUICIDE_LINE_NUMBER}")


@dataclass
class ResponseBook:
    texts: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Mapping[str, str]]) -> ResponseBook:
        book = cls(
            {str(i): {str(lang): " ".join(str(t).split()) for lang, t in v.items()} for i, v in data.items()}
        )
        book.validate()
        return book

    @classmethod
    def from_yaml(cls, text: str) -> ResponseBook:
        doc = yaml.safe_load(text)
        if not isinstance(doc, dict) or not isinstance(doc.get("responses"), dict):
            raise ResponseError("expected a mapping with a 'responses' mapping")
        return cls.from_mapping(doc["responses"])

    @classmethod
    def load(cls, path: str | Path | None = None) -> ResponseBook:
        return cls.from_yaml(Path(path or RESPONSES_PATH).read_text(encoding="utf-8"))

    def validate(self) -> None:
        for intent in INTENTS:
            for lang in LANGUAGES:
                check_response(intent, lang, self.texts.get(intent, {}).get(lang, ""))

    def get(self, intent: str, language: str) -> str:
        """The response for ``intent`` in ``language`` (Swedish if the language is not supported)."""
        by_lang = self.texts.get(intent) or self.texts["out_of_scope"]
        return by_lang.get(language) or by_lang["sv"]

    def set(self, intent: str, language: str, text: str) -> None:
        """Change one response; refused (ResponseError) if it would break the safety checks."""
        text = " ".join(text.split())
        check_response(intent, language, text)
        self.texts.setdefault(intent, {})[language] = text

    def to_yaml(self) -> str:
        return yaml.safe_dump(
            {"version": 1, "responses": self.texts}, allow_unicode=True, sort_keys=False, width=100
        )


_default: ResponseBook | None = None


def default_responses() -> ResponseBook:
    global _default
    if _default is None:
        _default = ResponseBook.load()
    return _default
