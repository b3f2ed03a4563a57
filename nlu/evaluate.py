"""Evaluation of triage on labelled data (by default the held-out test split).

Everything is measured through the full triage (model, safety margin, precedence and rules),
because that is what decides what a counsellor sees first.  ``critical_recall`` is the share of
``urgent_threat``/``self_harm`` examples that reach ``critical`` priority, whichever of the two
critical intents they get.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.envelope import Priority
from nlu.data import Dataset
from nlu.result import CRITICAL_INTENTS, INTENTS, Triager, TriageResult


@dataclass
class Evaluation:
    labels: list[str]
    per_intent: dict[str, dict[str, float]]
    macro_f1: float
    accuracy: float
    critical_recall: float
    critical_support: int
    confusion: dict[str, dict[str, int]]
    n: int
    data_hash: str = ""
    model_version: str = ""
    missed_critical: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        """The figures the registry gates on and stores with a model."""
        return {
            "macro_f1": round(self.macro_f1, 4),
            "critical_recall": round(self.critical_recall, 4),
            "accuracy": round(self.accuracy, 4),
            "n": self.n,
            "critical_support": self.critical_support,
            "data_hash": self.data_hash,
            "per_intent": self.per_intent,
        }

    def to_dict(self, include_errors: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model_version": self.model_version,
            "data_hash": self.data_hash,
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "critical_recall": round(self.critical_recall, 4),
            "critical_support": self.critical_support,
            "missed_critical": self.missed_critical,
            "per_intent": self.per_intent,
            "labels": self.labels,
            "confusion": self.confusion,
        }
        if include_errors:
            out["errors"] = self.errors
        return out

    def to_json(self, include_errors: bool = False) -> str:
        return json.dumps(self.to_dict(include_errors), ensure_ascii=False, indent=2)

    def to_text(self, include_errors: bool = False) -> str:
        lines = [f"model {self.model_version or '-'}  examples {self.n}  data {self.data_hash[:12]}", ""]
        lines.append(f"{'intent':<22}{'precision':>10}{'recall':>9}{'f1':>8}{'support':>9}")
        for label in self.labels:
            m = self.per_intent[label]
            lines.append(
                f"{label:<22}{m['precision']:>10.3f}{m['recall']:>9.3f}{m['f1']:>8.3f}{int(m['support']):>9d}"
            )
        lines += [
            "",
            f"macro-F1          {self.macro_f1:.4f}",
            f"accuracy          {self.accuracy:.4f}",
            f"critical recall   {self.critical_recall:.4f}  "
            f"({self.critical_support - self.missed_critical}/{self.critical_support} reach critical)",
            "",
            "confusion matrix (rows: true intent, columns: predicted)",
        ]
        abbrev = [label[:6] for label in self.labels]
        lines.append(f"{'':<22}" + "".join(f"{a:>7}" for a in abbrev))
        for label in self.labels:
            row = self.confusion[label]
            lines.append(f"{label:<22}" + "".join(f"{row[c]:>7d}" for c in self.labels))
        if include_errors and self.errors:
            lines += ["", "errors:"]
            lines += [f"  {e['true']:>20} -> {e['predicted']:<20} {e['text']}" for e in self.errors]
        return "\n".join(lines)


def score(gold: list[str], results: list[TriageResult], texts: list[str]) -> Evaluation:
    pred = [r.intent for r in results]
    labels = [i for i in INTENTS if i in gold or i in pred]
    confusion = {t: dict.fromkeys(labels, 0) for t in labels}
    for g, p in zip(gold, pred, strict=True):
        confusion[g][p] += 1
    per: dict[str, dict[str, float]] = {}
    for label in labels:
        tp = confusion[label][label]
        fp = sum(confusion[t][label] for t in labels) - tp
        fn = sum(confusion[label].values()) - tp
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": float(tp + fn),
        }
    gold_labels = [label for label in labels if per[label]["support"] > 0]
    macro = sum(per[label]["f1"] for label in gold_labels) / len(gold_labels) if gold_labels else 0.0
    crit = [r for g, r in zip(gold, results, strict=True) if g in CRITICAL_INTENTS]
    reached = sum(1 for r in crit if r.priority == Priority.CRITICAL)
    errors = [
        {"true": g, "predicted": r.intent, "text": t}
        for g, r, t in zip(gold, results, texts, strict=True)
        if g != r.intent
    ]
    return Evaluation(
        labels=labels,
        per_intent=per,
        macro_f1=macro,
        accuracy=sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold) if gold else 0.0,
        critical_recall=reached / len(crit) if crit else 1.0,
        critical_support=len(crit),
        confusion=confusion,
        n=len(gold),
        missed_critical=len(crit) - reached,
        errors=errors,
    )


def evaluate(dataset: Dataset, parse: Callable[[str], TriageResult], model_version: str = "") -> Evaluation:
    """Evaluate a synchronous parse function (e.g. ``EmbeddedTriager.parse_sync``) on ``dataset``."""
    texts, gold = _split(dataset)
    ev = score(gold, [parse(t) for t in texts], texts)
    ev.data_hash, ev.model_version = dataset.content_hash(), model_version
    return ev


async def evaluate_async(dataset: Dataset, triager: Triager) -> Evaluation:
    """Evaluate any Triager (for example one backed by a Rasa server)."""
    texts, gold = _split(dataset)
    results = [await triager.parse(t) for t in texts]
    ev = score(gold, results, texts)
    ev.data_hash = dataset.content_hash()
    ev.model_version = str(triager.health().get("model_version", ""))
    return ev


def _split(dataset: Dataset) -> tuple[list[str], list[str]]:
    pairs = list(dataset.pairs())
    return [t for t, _ in pairs], [i for _, i in pairs]
