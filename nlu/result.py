"""The triage contract (see docs/triage-schema.md): one result per message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.envelope import Priority

INTENTS: tuple[str, ...] = (
    "urgent_threat",
    "self_harm",
    "travel_conflict",
    "leave_movement",
    "concern_relative",
    "concern_professional",
    "human_request",
    "info_request",
    "greet",
    "goodbye",
    "out_of_scope",
)

INTENT_PRIORITY: dict[str, Priority] = {
    "urgent_threat": Priority.CRITICAL,
    "self_harm": Priority.CRITICAL,
    "travel_conflict": Priority.HIGH,
    "leave_movement": Priority.HIGH,
    "concern_relative": Priority.NORMAL,
    "concern_professional": Priority.NORMAL,
    "human_request": Priority.NORMAL,
    "info_request": Priority.LOW,
    "greet": Priority.LOW,
    "goodbye": Priority.LOW,
    "out_of_scope": Priority.LOW,
}

CRITICAL_INTENTS: frozenset[str] = frozenset({"urgent_threat", "self_harm"})
LANGUAGES: tuple[str, ...] = ("sv", "en")
"""The languages every safe response must exist in (the interface languages)."""

SUPPORTED_LANGUAGES: tuple[str, ...] = ("sv", "en", "ar", "fa", "so", "ti", "tr", "ku", "bs", "ru")
"""The languages triage identifies and answers in (``bs`` stands for Bosnian/Croatian/Serbian)."""

UNKNOWN_LANGUAGE = "und"
"""A language triage cannot name (ISO 639-2 "undetermined")."""


@dataclass(frozen=True, slots=True)
class TriageResult:
    text: str
    intent: str
    confidence: float
    language: str
    priority: Priority
    safe_response: str
    intent_ranking: tuple[tuple[str, float], ...] = ()
    entities: tuple[dict[str, Any], ...] = ()
    matched_rules: tuple[str, ...] = ()
    backend: str = "embedded"
    model_version: str = ""
    risk: dict[str, Any] | None = None
    """What the risk stage found (type, score, priority, signals, reason), or None."""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The parse output of the triage schema (Rasa's ``/model/parse`` shape plus triage fields)."""
        return {
            "text": self.text,
            "intent": {"name": self.intent, "confidence": round(self.confidence, 4)},
            "intent_ranking": [{"name": n, "confidence": round(c, 4)} for n, c in self.intent_ranking],
            "entities": list(self.entities),
            "language": self.language,
            "priority": self.priority.label,
            "matched_rules": list(self.matched_rules),
            "safe_response": self.safe_response,
            "risk": self.risk,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TriageResult:
        return cls(
            text=str(data.get("text", "")),
            intent=str(data["intent"]["name"]),
            confidence=float(data["intent"].get("confidence", 0.0)),
            language=str(data.get("language", "sv")),
            priority=Priority.from_label(str(data["priority"])),
            safe_response=str(data.get("safe_response", "")),
            intent_ranking=tuple(
                (str(r["name"]), float(r["confidence"])) for r in data.get("intent_ranking", ())
            ),
            entities=tuple(data.get("entities", ())),
            matched_rules=tuple(data.get("matched_rules", ())),
            backend=str(data.get("backend", "embedded")),
            model_version=str(data.get("model_version", "")),
            risk=data.get("risk") if isinstance(data.get("risk"), dict) else None,
        )


class Triager(Protocol):
    """What the pipeline needs from the NLU layer."""

    async def parse(self, text: str, language_hint: str | None = None) -> TriageResult: ...

    def health(self) -> dict[str, Any]: ...
