"""Safe responses per intent and language (``nlu/data/responses.yml`` for Swedish and English,
``nlu/data/responses_i18n.yml`` for the other languages people write in).

The book is checked when it is loaded and whenever a text is changed: every intent of the schema
has a text in Swedish and English, critical intents say to call 112 in every language, and
``self_harm`` also gives Mind Självmordslinjen 90101.  The answer for a person who is threatened
(``threatened``) gives 112 and the police's 114 14.  A change that breaks this is refused, so an
admin cannot remove the emergency numbers by mistake.  A text in another language ends with a
line saying that counsellors may answer in Swedish or English; where a language has no text, the
English one is sent (a person who does not write Swedish more often reads English).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nlu.result import CRITICAL_INTENTS, INTENTS, LANGUAGES, SUPPORTED_LANGUAGES

RESPONSES_PATH = Path(__file__).resolve().parent / "data" / "responses.yml"
I18N_PATH = Path(__file__).resolve().parent / "data" / "responses_i18n.yml"
EMERGENCY_NUMBER = "112"
SUICIDE_LINE_NUMBER = "90101"
POLICE_NUMBER = "11414"
RISK_KEYS = ("threatened",)


class ResponseError(ValueError):
    """The responses are incomplete or would drop a required emergency number."""


def _has_number(text: str, number: str) -> bool:
    return re.search(rf"(?<!\d){number}(?!\d)", text.replace(" ", "")) is not None


def check_response(intent: str, language: str, text: str) -> None:
    """Raise ResponseError if ``text`` is not acceptable as the safe response of ``intent``."""
    if intent not in INTENTS:
        raise ResponseError(f"unknown intent {intent!r}")
    if language not in SUPPORTED_LANGUAGES:
        raise ResponseError(f"unsupported language {language!r}")
    if not text.strip():
        raise ResponseError(f"{intent}/{language}: empty response")
    if intent in CRITICAL_INTENTS and not _has_number(text, EMERGENCY_NUMBER):
        raise ResponseError(f"{intent}/{language}: a critical response must say to call {EMERGENCY_NUMBER}")
    if intent == "self_harm" and not _has_number(text, SUICIDE_LINE_NUMBER):
        raise ResponseError(f"{intent}/{language}: must give Mind Självmordslinjen {SUICIDE_LINE_NUMBER}")


def check_risk_response(key: str, language: str, text: str) -> None:
    """Raise ResponseError if ``text`` is not acceptable as the answer for risk ``key``."""
    if key not in RISK_KEYS:
        raise ResponseError(f"unknown risk response {key!r}")
    if not text.strip():
        raise ResponseError(f"{key}/{language}: empty response")
    for number in (EMERGENCY_NUMBER, POLICE_NUMBER):
        if not _has_number(text, number):
            raise ResponseError(f"{key}/{language}: must give {number}")


def _squash(data: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    return {str(i): {str(lang): " ".join(str(t).split()) for lang, t in v.items()} for i, v in data.items()}


@dataclass
class ResponseBook:
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    risk_texts: dict[str, dict[str, str]] = field(default_factory=dict)

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
        book = cls.from_mapping(doc["responses"])
        if isinstance(doc.get("risk_responses"), dict):
            book.add_translations({"risk_responses": doc["risk_responses"]})
        return book

    @classmethod
    def load(cls, path: str | Path | None = None, i18n_path: str | Path | None = I18N_PATH) -> ResponseBook:
        book = cls.from_yaml(Path(path or RESPONSES_PATH).read_text(encoding="utf-8"))
        if i18n_path is not None and Path(i18n_path).exists():
            book.add_translations(yaml.safe_load(Path(i18n_path).read_text(encoding="utf-8")))
        return book

    def add_translations(self, doc: object) -> None:
        """Merge a translations document (``responses``, ``risk_responses``); checked like the rest."""
        if not isinstance(doc, dict):
            raise ResponseError("translations: expected a mapping")
        for intent, by_lang in _squash(doc.get("responses") or {}).items():
            for lang, text in by_lang.items():
                if lang in SUPPORTED_LANGUAGES:
                    check_response(intent, lang, text)
                    self.texts.setdefault(intent, {})[lang] = text
        for key, by_lang in _squash(doc.get("risk_responses") or {}).items():
            for lang, text in by_lang.items():
                if lang in SUPPORTED_LANGUAGES:
                    check_risk_response(key, lang, text)
                    self.risk_texts.setdefault(key, {})[lang] = text

    def validate(self) -> None:
        for intent in INTENTS:
            for lang in LANGUAGES:
                check_response(intent, lang, self.texts.get(intent, {}).get(lang, ""))
        for intent, by_lang in self.texts.items():
            for lang, text in by_lang.items():
                check_response(intent, lang, text)
        for key, by_lang in self.risk_texts.items():
            for lang, text in by_lang.items():
                check_risk_response(key, lang, text)

    def get(self, intent: str, language: str) -> str:
        """The response for ``intent`` in ``language``: Swedish for Swedish and unknown text,
        English for a language that has no text of its own."""
        by_lang = self.texts.get(intent) or self.texts["out_of_scope"]
        fallback = "sv" if language not in SUPPORTED_LANGUAGES else "en"
        return by_lang.get(language) or by_lang.get(fallback) or by_lang["sv"]

    def risk_response(self, key: str, language: str) -> str:
        """The answer for a risk (``threatened``) in ``language``, or "" if there is none."""
        by_lang = self.risk_texts.get(key) or {}
        fallback = "sv" if language not in SUPPORTED_LANGUAGES else "en"
        return by_lang.get(language) or by_lang.get(fallback) or by_lang.get("sv", "")

    def set(self, intent: str, language: str, text: str) -> None:
        """Change one response; refused (ResponseError) if it would break the safety checks."""
        text = " ".join(text.split())
        check_response(intent, language, text)
        self.texts.setdefault(intent, {})[language] = text

    def to_yaml(self) -> str:
        doc: dict[str, object] = {"version": 1, "responses": self.texts}
        if self.risk_texts:
            doc["risk_responses"] = self.risk_texts
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100)


_default: ResponseBook | None = None


def default_responses() -> ResponseBook:
    global _default
    if _default is None:
        _default = ResponseBook.load()
    return _default
