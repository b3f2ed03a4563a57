"""Triage: language, intent, priority and safe response for one message.

``build_triager`` is what the gateway calls.  Whatever backend classifies (the embedded model or a
Rasa server), the same decision layer runs on top of its intent ranking:

1. the model's best intent;
2. a safety margin: if a critical intent has at least ``critical_margin`` probability, it wins
   (a missed critical message is the worst failure of this service);
3. the schema's precedence: ``travel_conflict`` over ``leave_movement`` and ``concern_*``;
   ``human_request`` only when nothing more substantive is likely;
4. the safety rules (``nlu.rules``), which can raise but never lower the priority.

Message text is never logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError
from nlu.classifier import ModelArtifact, ModelFormatError, train_artifact
from nlu.data import Dataset, load_training_data
from nlu.language import detect_language
from nlu.responses import ResponseBook, default_responses
from nlu.result import CRITICAL_INTENTS, INTENT_PRIORITY, INTENTS, Triager, TriageResult
from nlu.rules import PRECEDENCE_RANK, apply_rules, match_rules
from nlu.text import fold

log = logging.getLogger(__name__)

MAX_MODEL_CHARS = 4000
"""The classifier reads at most this much of a message (long e-mails); the rules read all of it."""

_SUBSTANTIVE = ("travel_conflict", "leave_movement", "concern_relative", "concern_professional")
_BELOW_TRAVEL = ("leave_movement", "concern_relative", "concern_professional", "human_request")


@dataclass(frozen=True, slots=True)
class TriageConfig:
    critical_margin: float = 0.30
    travel_margin: float = 0.30
    substantive_margin: float = 0.25


DEFAULT_CONFIG = TriageConfig()


@dataclass(frozen=True, slots=True)
class Decision:
    intent: str
    confidence: float
    matched_rules: tuple[str, ...]
    decided_by: str  # "model", "safety_margin", "precedence", "rule", "empty"


def decide(
    text: str,
    ranking: Sequence[tuple[str, float]],
    config: TriageConfig = DEFAULT_CONFIG,
    *,
    folded: str | None = None,
) -> Decision:
    """Apply margins, precedence and rules to a model's intent ranking (best first)."""
    probs = {name: p for name, p in ranking if name in INTENT_PRIORITY}
    known = [(n, p) for n, p in ranking if n in INTENT_PRIORITY]
    matches = match_rules(text, folded=folded)
    rule_ids = tuple(m.rule_id for m in matches)
    if not known:
        intent, decided_by = "out_of_scope", "empty"
    else:
        intent, decided_by = known[0][0], "model"
    if intent not in CRITICAL_INTENTS:
        crit = max(CRITICAL_INTENTS, key=lambda i: probs.get(i, 0.0))
        if probs.get(crit, 0.0) >= config.critical_margin:
            intent, decided_by = crit, "safety_margin"
    if intent in _BELOW_TRAVEL and probs.get("travel_conflict", 0.0) >= config.travel_margin:
        intent, decided_by = "travel_conflict", "precedence"
    if intent == "human_request":
        alt = max(_SUBSTANTIVE, key=lambda i: probs.get(i, 0.0))
        if probs.get(alt, 0.0) >= config.substantive_margin:
            intent, decided_by = alt, "precedence"
    ruled, overridden = apply_rules(intent, matches)
    if overridden:
        return Decision(ruled, 1.0, rule_ids, "rule")
    return Decision(intent, probs.get(intent, 0.0), rule_ids, decided_by)


def build_result(
    text: str,
    ranking: Sequence[tuple[str, float]],
    *,
    language_hint: str | None,
    responses: ResponseBook,
    backend: str,
    model_version: str,
    entities: Sequence[dict[str, Any]] = (),
    config: TriageConfig = DEFAULT_CONFIG,
    extra: dict[str, Any] | None = None,
    folded: str | None = None,
) -> TriageResult:
    folded = fold(text) if folded is None else folded
    lang = detect_language(text, language_hint, folded=folded).language
    d = decide(text, ranking, config, folded=folded)
    return TriageResult(
        text=text,
        intent=d.intent,
        confidence=d.confidence,
        language=lang,
        priority=INTENT_PRIORITY[d.intent],
        safe_response=responses.get(d.intent, lang),
        intent_ranking=tuple((n, float(p)) for n, p in ranking[: len(INTENTS)]),
        entities=tuple(entities),
        matched_rules=d.matched_rules,
        backend=backend,
        model_version=model_version,
        extra={"decided_by": d.decided_by, **(extra or {})},
    )


class EmbeddedTriager:
    """Triage with the embedded classifier.  ``reload`` swaps the model while running."""

    backend = "embedded"

    def __init__(
        self,
        model: ModelArtifact,
        responses: ResponseBook | None = None,
        config: TriageConfig = DEFAULT_CONFIG,
    ) -> None:
        self._model = model
        self._responses = responses or default_responses()
        self.config = config
        self._lock = threading.Lock()
        self._loaded_at = time.time()
        self._parsed = 0

    @property
    def model(self) -> ModelArtifact:
        return self._model

    @property
    def responses(self) -> ResponseBook:
        return self._responses

    def reload(self, model: ModelArtifact) -> None:
        """Switch to another model; parses already running finish with the old one."""
        with self._lock:
            self._model = model
            self._loaded_at = time.time()
        log.info("nlu model switched to %s", model.version)

    def set_responses(self, responses: ResponseBook) -> None:
        responses.validate()
        self._responses = responses

    def parse_sync(self, text: str, language_hint: str | None = None) -> TriageResult:
        model = self._model
        folded = fold(text)
        ranking = model.classifier.predict_folded(folded[:MAX_MODEL_CHARS]) if folded else []
        self._parsed += 1
        return build_result(
            text,
            ranking,
            language_hint=language_hint,
            responses=self._responses,
            backend=self.backend,
            model_version=model.version,
            config=self.config,
            folded=folded,
        )

    async def parse(self, text: str, language_hint: str | None = None) -> TriageResult:
        return self.parse_sync(text, language_hint)

    async def close(self) -> None:
        """Nothing to release; present so that every triager can be closed the same way."""

    def health(self) -> dict[str, Any]:
        m = self._model
        return {
            "backend": self.backend,
            "state": "ok",
            "model_version": m.version,
            "model_created": m.created,
            "data_hash": m.data_hash,
            "loaded_at": self._loaded_at,
            "parsed": self._parsed,
            "metrics": {k: m.metrics[k] for k in ("macro_f1", "critical_recall") if k in m.metrics},
        }


_trained: dict[str, ModelArtifact] = {}


def default_model(dataset: Dataset | None = None) -> ModelArtifact:
    """A model trained on the shipped training data (once per process and data version)."""
    ds = dataset or load_training_data()
    key = ds.content_hash()
    if key not in _trained:
        _trained[key] = train_artifact(ds, note="trained at start")
    return _trained[key]


def load_model(model_path: str | Path) -> ModelArtifact:
    try:
        return ModelArtifact.load(str(model_path))
    except OSError as exc:
        raise ConfigError("nlu.model_path", f"cannot read {model_path}: {exc.strerror}") from None
    except ModelFormatError as exc:
        raise ConfigError("nlu.model_path", str(exc)) from None


def build_triager(
    backend: str = "embedded",
    rasa_url: str | None = None,
    model_path: str | None = None,
    timeout: float = 2.0,
) -> Triager:
    """The triager the gateway uses.

    ``backend="embedded"``: the embedded classifier, loaded from ``model_path`` or trained from
    the shipped data at start.  ``backend="rasa"``: a Rasa server at ``rasa_url`` (``POST
    /model/parse``, ``timeout`` seconds per request), falling back to the embedded classifier
    while the server is down.  Raises ConfigError for an unknown backend, a missing URL or an
    unreadable model file.
    """
    model = load_model(model_path) if model_path else default_model()
    embedded = EmbeddedTriager(model)
    if backend == "embedded":
        return embedded
    if backend == "rasa":
        if not rasa_url:
            raise ConfigError("nlu.rasa_url", "required when nlu.backend is 'rasa'")
        if timeout <= 0:
            raise ConfigError("nlu.timeout", "must be positive")
        from nlu.rasa import RasaTriager

        return RasaTriager(rasa_url, fallback=embedded, timeout=timeout)
    raise ConfigError("nlu.backend", f"unknown backend {backend!r} (expected 'embedded' or 'rasa')")


__all__ = [
    "DEFAULT_CONFIG",
    "PRECEDENCE_RANK",
    "EmbeddedTriager",
    "TriageConfig",
    "build_result",
    "build_triager",
    "decide",
    "default_model",
    "load_model",
]
