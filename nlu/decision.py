"""The decision layer of triage (stages 3 to 5 of :mod:`nlu.triage`): margins, precedence and the
safety rules over an intent ranking, then the risk stage, which only raises, and the floor for a
language no model here could read.  Every step deterministic; message text is never logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.envelope import Priority
from nlu.language import detect_language
from nlu.responses import ResponseBook
from nlu.result import CRITICAL_INTENTS, INTENT_PRIORITY, INTENTS, TriageResult
from nlu.risk import SELF, THREATENED, RiskAssessment, assess
from nlu.rules import apply_rules, match_rules
from nlu.text import fold

_SUBSTANTIVE = ("travel_conflict", "leave_movement", "concern_relative", "concern_professional")
_BELOW_TRAVEL = ("leave_movement", "concern_relative", "concern_professional", "human_request")
_CRITICAL_ORDER = ("self_harm", "urgent_threat")  # a tuple: set order would depend on the hash seed


@dataclass(frozen=True, slots=True)
class TriageConfig:
    critical_margin: float = 0.30
    travel_margin: float = 0.30
    substantive_margin: float = 0.25
    second_opinion_from: float = 0.10
    """A Swedish/English message whose critical probability is at least this (but under the
    margin) is also read by the embedding stage."""
    embedding_critical: float = 0.50
    """The embedding stage's critical probability that raises such a message to critical."""
    embedding_margin: float = 0.35
    """For a message the embedding stage ranked alone (another language): the two critical
    intents' probabilities together that make it critical.  Summed, because the model often
    splits its belief between self-harm and a threat ("he stands on the bridge and will jump")."""


DEFAULT_CONFIG = TriageConfig()


@dataclass(frozen=True, slots=True)
class Decision:
    intent: str
    confidence: float
    matched_rules: tuple[str, ...]
    decided_by: str  # "model", "safety_margin", "precedence", "rule", "empty"


def critical_probability(ranking: Sequence[tuple[str, float]]) -> float:
    return max((p for n, p in ranking if n in CRITICAL_INTENTS), default=0.0)


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
        crit = max(_CRITICAL_ORDER, key=lambda i: probs.get(i, 0.0))
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


@dataclass
class _Outcome:
    intent: str
    priority: Priority
    decided_by: str
    response_key: str = ""


def _apply_risk(out: _Outcome, risk: RiskAssessment | None, ranking: Sequence[tuple[str, float]]) -> _Outcome:
    """Raise what the decision layer chose with what the risk stage found.

    The one change that is not a raise: a person who writes that they are threatened, with no
    sign of self-harm of their own, is not triaged ``self_harm`` (that would send them the
    suicide line); the intent becomes the most likely non-critical one, and the priority what
    the threat warrants (high, or critical for a death threat or danger now).
    """
    if risk is None:
        return out
    if risk.type == THREATENED:
        if out.intent == "self_harm":
            others = [n for n, _ in ranking if n not in CRITICAL_INTENTS]
            out.intent = (
                others[0] if others and out.decided_by in ("model", "safety_margin") else "urgent_threat"
            )
            out.priority = max(INTENT_PRIORITY[out.intent], risk.priority)
            out.decided_by = "risk"
        if risk.priority > out.priority:
            out.priority, out.decided_by = risk.priority, "risk"
        if out.intent != "self_harm":
            out.response_key = THREATENED
        return out
    if risk.priority == Priority.CRITICAL and out.intent not in CRITICAL_INTENTS:
        out.intent = "self_harm" if risk.type == SELF else "urgent_threat"
        out.priority, out.decided_by = Priority.CRITICAL, "risk"
    elif risk.priority > out.priority:
        out.priority, out.decided_by = risk.priority, "risk"
    return out


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
    language: str | None = None,
    second_opinion: Sequence[tuple[str, float]] | None = None,
    model_covers_language: bool = True,
    ranked_by_embedding: bool = False,
) -> TriageResult:
    """The result for ``text`` from an intent ranking (and the embedding stage's, if it ran)."""
    folded = fold(text) if folded is None else folded
    lang = language or detect_language(text, language_hint, folded=folded).language
    d = decide(text, ranking, config, folded=folded)
    out = _Outcome(d.intent, INTENT_PRIORITY[d.intent], d.decided_by)
    if (
        second_opinion
        and out.intent not in CRITICAL_INTENTS
        and critical_probability(second_opinion) >= config.embedding_critical
    ):
        crit = max(_CRITICAL_ORDER, key=lambda i: dict(second_opinion).get(i, 0.0))
        out = _Outcome(crit, Priority.CRITICAL, "embedding")
    if ranked_by_embedding and out.intent not in CRITICAL_INTENTS:
        probs = dict(ranking)
        if sum(probs.get(i, 0.0) for i in _CRITICAL_ORDER) >= config.embedding_margin:
            crit = max(_CRITICAL_ORDER, key=lambda i: probs.get(i, 0.0))
            out = _Outcome(crit, Priority.CRITICAL, "safety_margin")
    risk = assess(folded, text, lang)
    out = _apply_risk(out, risk, ranking)
    if not model_covers_language and out.priority < Priority.NORMAL:
        # Nobody here could read it: a person reads it.
        out.intent, out.priority, out.decided_by = "human_request", Priority.NORMAL, "language_floor"
    safe = responses.risk_response(out.response_key, lang) if out.response_key else ""
    stages: dict[str, Any] = {"decided_by": out.decided_by}
    if second_opinion is not None:
        stages["second_opinion"] = [[n, round(p, 4)] for n, p in second_opinion[:3]]
    return TriageResult(
        text=text,
        intent=out.intent,
        confidence=1.0 if out.decided_by in ("risk", "rule") else dict(ranking).get(out.intent, 0.0),
        language=lang,
        priority=out.priority,
        safe_response=safe or responses.get(out.intent, lang),
        intent_ranking=tuple((n, float(p)) for n, p in ranking[: len(INTENTS)]),
        entities=tuple(entities),
        matched_rules=d.matched_rules,
        backend=backend,
        model_version=model_version,
        risk=risk.to_dict() if risk is not None else None,
        extra={**stages, **(extra or {})},
    )
