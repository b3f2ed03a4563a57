"""Evaluation by language and by family, false alarms, danger below high, leave-one-family-out.

:mod:`nlu.evaluate` scores intents; this module answers the questions the line is judged on:

* **critical recall**: the share of ``urgent_threat``/``self_harm`` examples that reach
  ``critical`` (whichever critical intent);
* **false-alarm rate**: the share of examples that should not be critical (a non-critical intent
  and no ``min_priority: critical``) made critical;
* **danger below high**: examples that are danger (a critical intent, or ``min_priority`` high or
  critical) triaged below ``high``.  The quality bar is zero, in every language;
* the same figures **per language and per family**, so that a language or a way of writing that
  triage misses cannot hide in an average;
* **leave-one-family-out**: for each paraphrase family of the training data, a model trained
  without it, evaluated on it: does triage generalise to a way of writing it was not shown?
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.envelope import Priority
from nlu.classifier import train_artifact
from nlu.data import Dataset, Example
from nlu.evaluate import score
from nlu.result import CRITICAL_INTENTS, TriageResult


@dataclass
class GroupFigures:
    n: int = 0
    correct: int = 0
    critical_support: int = 0
    critical_reached: int = 0
    non_critical: int = 0
    false_alarms: int = 0
    danger: int = 0
    danger_below_high: int = 0
    below_min: int = 0

    def add(self, ex: Example, r: TriageResult) -> None:
        self.n += 1
        self.correct += r.intent == ex.intent
        must_be_critical = ex.intent in CRITICAL_INTENTS or ex.min_priority == "critical"
        if ex.intent in CRITICAL_INTENTS:
            self.critical_support += 1
            self.critical_reached += r.priority == Priority.CRITICAL
        if not must_be_critical:
            self.non_critical += 1
            self.false_alarms += r.priority == Priority.CRITICAL
        if must_be_critical or ex.min_priority == "high":
            self.danger += 1
            self.danger_below_high += r.priority < Priority.HIGH
        if ex.min_priority and r.priority < Priority.from_label(ex.min_priority):
            self.below_min += 1

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def critical_recall(self) -> float:
        return self.critical_reached / self.critical_support if self.critical_support else 1.0

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.non_critical if self.non_critical else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "critical_recall": round(self.critical_recall, 4),
            "critical_support": self.critical_support,
            "false_alarm_rate": round(self.false_alarm_rate, 4),
            "false_alarms": self.false_alarms,
            "danger": self.danger,
            "danger_below_high": self.danger_below_high,
            "below_min_priority": self.below_min,
        }


@dataclass
class Report:
    name: str
    n: int
    macro_f1: float
    overall: GroupFigures
    by_language: dict[str, GroupFigures]
    by_family: dict[str, GroupFigures]
    misses: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self, include_misses: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "n": self.n,
            "macro_f1": round(self.macro_f1, 4),
            **self.overall.to_dict(),
            "by_language": {k: v.to_dict() for k, v in sorted(self.by_language.items())},
            "by_family": {k: v.to_dict() for k, v in sorted(self.by_family.items())},
        }
        if include_misses:
            out["misses"] = self.misses
        return out

    def to_text(self, include_misses: bool = False) -> str:
        o = self.overall
        lines = [
            f"== {self.name}: {self.n} examples",
            f"macro-F1 {self.macro_f1:.4f}  accuracy {o.accuracy:.4f}  "
            f"critical recall {o.critical_recall:.4f} ({o.critical_reached}/{o.critical_support})  "
            f"false alarms {o.false_alarm_rate:.2%} ({o.false_alarms}/{o.non_critical})  "
            f"danger below high {o.danger_below_high}/{o.danger}",
        ]
        for title, groups in (("language", self.by_language), ("family", self.by_family)):
            lines.append(f"{title:<20}{'n':>5}{'acc':>8}{'crit.rec':>10}{'f.alarm':>9}{'danger<high':>13}")
            for key, g in sorted(groups.items()):
                lines.append(
                    f"{key:<20}{g.n:>5}{g.accuracy:>8.3f}{g.critical_recall:>10.3f}"
                    f"{g.false_alarm_rate:>9.3f}{g.danger_below_high:>8}/{g.danger:<4}"
                )
        if include_misses and self.misses:
            lines.append("misses (danger below its minimum, or false alarms):")
            lines += [
                f"  [{m['kind']}] {m['language']}/{m['family']} {m['true']} -> {m['got']}: {m['text']}"
                for m in self.misses
            ]
        return "\n".join(lines)


def report(name: str, examples: Sequence[Example], parse: Callable[[str], TriageResult]) -> Report:
    """Triage every example through ``parse`` (the full triage) and group the figures."""
    results = [parse(ex.text) for ex in examples]
    overall = GroupFigures()
    by_lang: dict[str, GroupFigures] = {}
    by_family: dict[str, GroupFigures] = {}
    misses: list[dict[str, str]] = []
    for ex, r in zip(examples, results, strict=True):
        overall.add(ex, r)
        by_lang.setdefault(ex.language or r.language, GroupFigures()).add(ex, r)
        by_family.setdefault(ex.family, GroupFigures()).add(ex, r)
        must = ex.min_priority or ("critical" if ex.intent in CRITICAL_INTENTS else "")
        if must and r.priority < Priority.from_label(must):
            kind = "missed"
        elif ex.intent not in CRITICAL_INTENTS and must != "critical" and r.priority == Priority.CRITICAL:
            kind = "false alarm"
        else:
            continue
        misses.append(
            {
                "kind": kind,
                "language": ex.language,
                "family": ex.family,
                "true": f"{ex.intent}/{must or '-'}",
                "got": f"{r.intent}/{r.priority.label}",
                "text": ex.text,
            }
        )
    ev = score([ex.intent for ex in examples], results, [ex.text for ex in examples])
    return Report(name, len(examples), ev.macro_f1, overall, by_lang, by_family, misses)


def leave_one_family_out(
    base: Dataset,
    families: Sequence[Example],
    make_parse: Callable[[Any], Callable[[str], TriageResult]],
    skip: Sequence[str] = ("plain",),
) -> dict[str, GroupFigures]:
    """For each family: train on ``base`` plus every other family, evaluate on the one left out.

    ``make_parse(artifact)`` returns the parse function of a triager using that model (the
    caller decides which stages run; the embedding stage's shipped head has seen every family,
    so an honest figure leaves it out).
    """
    names = sorted({ex.family for ex in families} - set(skip))
    out: dict[str, GroupFigures] = {}
    for name in names:
        train = Dataset.from_pairs(base.pairs())
        held = [ex for ex in families if ex.family == name]
        held_texts = {ex.text for ex in held}
        for ex in families:
            if ex.family != name:
                train.add(ex.intent, ex.text)
        for intent, texts in list(train.examples.items()):
            train.examples[intent] = [t for t in texts if t not in held_texts]
        parse = make_parse(train_artifact(train, note=f"without family {name}"))
        g = GroupFigures()
        for ex in held:
            g.add(ex, parse(ex.text))
        out[name] = g
    return out


def lofo_text(figures: dict[str, GroupFigures]) -> str:
    lines = ["== leave-one-family-out (trained without the family, evaluated on it)"]
    lines.append(f"{'family':<20}{'n':>5}{'acc':>8}{'crit.rec':>10}{'f.alarm':>9}{'danger<high':>13}")
    for key, g in sorted(figures.items()):
        lines.append(
            f"{key:<20}{g.n:>5}{g.accuracy:>8.3f}{g.critical_recall:>10.3f}"
            f"{g.false_alarm_rate:>9.3f}{g.danger_below_high:>8}/{g.danger:<4}"
        )
    return "\n".join(lines)


def lofo_json(figures: dict[str, GroupFigures]) -> str:
    return json.dumps({k: v.to_dict() for k, v in sorted(figures.items())}, indent=2)
