"""The risk stage: recall on danger to self and to others, beside the intent classifier.

The classifier answers "what is this message about"; this stage answers only "is somebody in
danger", from signals that predict risk better than the word "suicide" does (Crisis Text Line's
finding: words about means and method).  It can raise a message to ``high`` or ``critical``; it
never lowers anything.  What it found is returned (risk type, the signals, a score and a short
reason such as "means: pills + taken") so that the console can show why a conversation jumped
the queue.

Three risk types:

* ``self``: the writer, or the person written about, may be about to harm themselves: means
  (pills, rope, a car in a closed garage, a bridge) together with a state ("taken", "in front of
  me", "laid out") or a farewell or a time; a farewell on its own (a goodbye letter written,
  "won't be around after the weekend", "nobody will miss me");
* ``others``: violence against others being prepared: explosive precursors together, past
  attacks studied as models, a home address posted with a threat to "visit", a target with a date
  or a weapon;
* ``threatened``: the writer (or someone close) is the one threatened.  It is danger from
  others, not self-harm: the answer gives 112 and the police's 114 14, never the suicide line.

Swedish and English signals are regular expressions over folded text (:mod:`nlu.risk_signals`).
The other languages use the per-language lexicon in ``nlu/data/risk_lexicon.yml``
(:mod:`nlu.risk_lexicon`), so a danger message in Arabic, Persian, Somali, Tigrinya, Turkish,
Kurdish, Bosnian/Croatian/Serbian or Russian is raised even where no model understands it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.envelope import Priority
from nlu.risk_lexicon import LexiconHits, default_lexicon
from nlu.risk_signals import SignalHits, find_signals

SELF, OTHERS, THREATENED = "self", "others", "threatened"
CRITICAL_SCORE = 0.6
"""A risk score at or above this makes a message critical (``threatened``: see :func:`assess`)."""


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    """What the risk stage found in one message."""

    type: str  # self, others or threatened
    score: float
    priority: Priority
    signals: tuple[str, ...]
    reason: str
    explicit: bool = False  # an unambiguous statement (not a combination of weaker signals)
    scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "score": round(self.score, 3),
            "priority": self.priority.label,
            "signals": list(self.signals),
            "reason": self.reason,
        }


def _self_score(h: SignalHits) -> float:
    means, state, farewell, time, despair = h.means, h.state, h.farewell, h.time, h.despair
    score = 0.0
    if h.self_intent:
        score = 1.0
    if means and (state or h.quantity):
        score = max(score, 0.9)
    if farewell >= 1.0:
        score = max(score, 0.8)
    if means and (farewell or time or despair):
        score = max(score, 0.75)
    if farewell and (despair or time or means):
        score = max(score, 0.7)
    if despair and time and h.self_reference:
        score = max(score, 0.6)
    if despair >= 2 and h.self_reference:
        score = max(score, 0.5)
    return score


def _others_score(h: SignalHits) -> float:
    score = 0.0
    weak = h.precursors - h.strong_precursors
    # Batteries and nails for a torch are shopping; fertiliser with pipes, or three parts of a
    # device together, are not.
    if (h.strong_precursors and (h.precursors >= 2 or h.build)) or (weak >= 2 and h.build):
        score = max(score, 0.85)
    if weak >= 3:
        score = max(score, 0.8 if (h.target or h.time or h.future) else 0.5)
    if h.weapon and h.target and (h.time or h.future):
        score = max(score, 0.75)
    if h.precursors and h.target and (h.time or h.future or h.recon or h.precursors >= 2 or h.doom):
        score = max(score, 0.8)
    if (h.gear or h.vehicle) and (h.target or h.attack_model or h.time):
        score = max(score, 0.8)
    if h.doom and h.target and (h.build or h.precursors or h.weapon or h.time):
        score = max(score, 0.75)
    # Bomb material, detonators and primary explosives have no garden use; fertiliser does.
    if h.explicit_precursors and (h.time or h.future or h.target):
        score = max(score, 0.8)
    if h.strong_precursors and h.target:
        score = max(score, 0.8)
    if h.address and (h.weapon or h.acquire_firearm or h.build or h.violence):
        score = max(score, 0.8)
    if h.recon and h.target:
        score = max(score, 0.8)
    if h.acquire_firearm:
        score = max(score, 0.7)
    if h.violence and h.future and h.time:
        score = max(score, 0.7)
    if h.attack_model and (h.emulate or h.time or h.weapon):
        score = max(score, 0.8)
    if h.address and (h.visit or (h.time and h.target)):
        score = max(score, 0.8)
    # A target with violence needs a date or a stated plan: "the school shooting in the news" and
    # an old joke are not a plan.
    if h.target and (h.violence or h.weapon or h.arson) and (h.time or h.future):
        score = max(score, 0.75)
    if h.arson and (h.time or h.future):
        score = max(score, 0.75)
    if h.weapon and h.time and (h.target or h.violence):
        score = max(score, 0.7)
    return score


def _threat_score(h: SignalHits) -> float:
    if not h.threatened:
        return 0.0
    score = 0.5 + 0.1 * min(3, h.threatened - 1)
    if h.death_threat:
        score = 0.8
    if h.death_threat and (h.time or h.address):
        score = 0.9
    # Someone outside the door now, or with weapons, is immediate danger.
    if h.time and (
        h.weapon or any(x.startswith(("threatened:after me", "threatened:know where")) for x in h.labels)
    ):
        score = max(score, 0.85)
    return score


def _lexicon_scores(x: LexiconHits) -> dict[str, float]:
    """Scores from the per-language lexicon: a safety net for languages no model understands."""
    self_s = 0.0
    if x.self_intent:
        self_s = 0.9
    elif x.self_means and (x.farewell or x.time):
        self_s = 0.75
    elif x.farewell and x.self_means:
        self_s = 0.75
    elif x.self_means:
        self_s = 0.45
    elif x.farewell:
        self_s = 0.45
    others = 0.0
    if x.violence and (x.weapon or x.time):
        others = 0.85
    elif x.violence:
        others = 0.65
    elif x.weapon and x.time:
        others = 0.65
    elif x.weapon:
        others = 0.45
    threat = 0.0
    if x.threatened:
        threat = 0.8 if (x.violence or x.time) else 0.55
    return {SELF: self_s, OTHERS: others, THREATENED: threat}


def assess(folded: str, text: str, language: str) -> RiskAssessment | None:
    """The risk in one message, or None when no signal was found.

    ``folded`` is the folded text (for the Swedish and English signals), ``text`` the original
    (for the lexicon of the other languages), ``language`` what language identification said.
    """
    hits = find_signals(folded)
    scores = {SELF: _self_score(hits), OTHERS: _others_score(hits), THREATENED: _threat_score(hits)}
    signals = list(hits.labels)
    if language not in ("sv", "en"):
        lex = default_lexicon().match(text, language)
        for kind, value in _lexicon_scores(lex).items():
            scores[kind] = max(scores[kind], value)
        signals += lex.labels
    # Being threatened is not self-harm: a threat reported in the message takes the self score
    # unless the self signals stand on their own (means, farewell or an explicit statement).
    if scores[THREATENED] and not (hits.self_intent or hits.means or hits.farewell):
        scores[SELF] = min(scores[SELF], 0.3)
    kind = max((SELF, OTHERS, THREATENED), key=lambda k: (scores[k], -(SELF, OTHERS, THREATENED).index(k)))
    score = scores[kind]
    if score < 0.4:
        return None
    if kind == THREATENED:
        priority = Priority.CRITICAL if score >= 0.8 else Priority.HIGH
    elif score >= CRITICAL_SCORE:
        priority = Priority.CRITICAL
    else:
        priority = Priority.HIGH
    relevant = [s for s in signals if s.split(":", 1)[0] in _GROUPS[kind]] or signals
    return RiskAssessment(
        type=kind,
        score=score,
        priority=priority,
        signals=tuple(dict.fromkeys(relevant)),
        reason=_reason(relevant),
        explicit=bool(hits.self_intent) if kind == SELF else False,
        scores={k: round(v, 3) for k, v in scores.items()},
    )


_GROUPS = {
    SELF: {"self", "means", "state", "quantity", "farewell", "time", "despair"},
    OTHERS: {
        "precursor",
        "build",
        "model",
        "emulate",
        "address",
        "visit",
        "target",
        "violence",
        "weapon",
        "arson",
        "time",
        "recon",
        "gear",
        "vehicle",
        "doom",
    },
    THREATENED: {"threatened", "death_threat", "address", "time", "violence"},
}


def _reason(signals: list[str]) -> str:
    """ "means: pills + taken" style text: the signal groups in order, their words joined."""
    groups: dict[str, list[str]] = {}
    for s in signals:
        group, _, word = s.partition(":")
        groups.setdefault(group, [])
        if word and word not in groups[group]:
            groups[group].append(word)
    return "; ".join(f"{g}: {' + '.join(ws)}" if ws else g for g, ws in groups.items())


__all__ = ["CRITICAL_SCORE", "OTHERS", "SELF", "THREATENED", "RiskAssessment", "assess"]
