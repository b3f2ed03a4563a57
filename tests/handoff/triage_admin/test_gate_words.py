"""The model gate's reasons in the admin's language: every reason the registry gives (read off its
own decisions, not copied here) is shown in Swedish on a Swedish page and as it was in English."""

from __future__ import annotations

from handoff.triage_admin.gate_words import gate_reason
from nlu.registry import decide_activation

BASE = {"critical_recall": 0.95, "macro_f1": 0.95, "data_hash": "x"}


def _reasons() -> list[str]:
    cases = [
        ({}, BASE),
        (BASE, None),
        (BASE, {"macro_f1": 0.9}),
        ({**BASE, "data_hash": "y"}, BASE),
        ({**BASE, "critical_recall": 0.9}, BASE),
        ({**BASE, "macro_f1": 0.8}, BASE),
        (BASE, BASE),
    ]
    return [decide_activation(c, a)[1] for c, a in cases] + [
        "already active",
        "forced",
        "nothing to roll back to",
    ]


def test_every_reason_of_the_registry_has_swedish_words() -> None:
    for reason in _reasons():
        swedish = gate_reason(reason, "sv")
        assert swedish != reason and swedish, reason
        assert gate_reason(reason, "en") == reason


def test_the_numbers_and_metrics_are_carried_over() -> None:
    reason = decide_activation({**BASE, "critical_recall": 0.9}, BASE)[1]
    assert gate_reason(reason, "sv") == "kritisk träffsäkerhet skulle sjunka från 0.9500 till 0.9000"
    assert gate_reason("candidate has no macro_f1: evaluate it first", "sv") == (
        "kandidaten saknar makro-F1: utvärdera den först"
    )
    assert gate_reason("something new", "sv") == "something new"
    assert gate_reason(None, "sv") == ""
