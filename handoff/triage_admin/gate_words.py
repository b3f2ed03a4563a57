"""The model gate's reasons in the admin's language (issue 17, item 2).

:func:`nlu.registry.decide_activation` and the registry give their reasons as English sentences,
and those are what is stored (a training job's ``gate_reason``, a model version's ``reason``).  The
admin's page shows them in its own language: each English sentence is matched against the
registry's templates below, and the same template in ``lang`` is filled with the numbers found.
A sentence no template matches is shown as it is (``lang="en"`` on the page)."""

from __future__ import annotations

import re
from functools import cache

GATE_REASONS: dict[str, dict[str, str]] = {
    "sv": {
        "no_metric": "kandidaten saknar {key}: utvärdera den först",
        "no_active": "ingen aktiv modell att jämföra med",
        "active_no_metric": "den aktiva modellen saknar {key}; kandidaten godtogs",
        "other_data": (
            "kandidaten och den aktiva modellen utvärderades på olika data: utvärdera båda på samma testdel"
        ),
        "recall_drop": "kritisk träffsäkerhet skulle sjunka från {a} till {c}",
        "f1_drop": "makro-F1 skulle sjunka med {d} (från {a} till {c}), mer än tillåtna {max}",
        "within": "kritisk träffsäkerhet {a_cr} → {c_cr}, makro-F1 {a_f1} → {c_f1}: inom gränsen",
        "already_active": "redan aktiv",
        "forced": "aktiverad trots spärren",
        "nothing_to_roll_back": "det finns ingen tidigare modell att gå tillbaka till",
        "rolled_back": "tillbaka från {current} till {target}",
    },
    "en": {
        "no_metric": "candidate has no {key}: evaluate it first",
        "no_active": "no active model to compare with",
        "active_no_metric": "active model has no {key}; candidate accepted",
        "other_data": (
            "candidate and active model were evaluated on different data: evaluate both on the same test set"
        ),
        "recall_drop": "critical recall would drop from {a} to {c}",
        "f1_drop": "macro-F1 would drop by {d} (from {a} to {c}), more than the allowed {max}",
        "within": "critical recall {a_cr} -> {c_cr}, macro-F1 {a_f1} -> {c_f1}: within the gate",
        "already_active": "already active",
        "forced": "forced",
        "nothing_to_roll_back": "nothing to roll back to",
        "rolled_back": "rolled back from {current} to {target}",
    },
}
METRIC_WORDS: dict[str, dict[str, str]] = {
    "sv": {"critical_recall": "kritisk träffsäkerhet", "macro_f1": "makro-F1"},
    "en": {"critical_recall": "critical_recall", "macro_f1": "macro_f1"},
}


@cache
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    out = []
    for key, template in GATE_REASONS["en"].items():
        parts = re.split(r"\{(\w+)\}", template)
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
        out.append((key, re.compile(f"^{regex}$")))
    return tuple(out)


def gate_reason(text: str | None, lang: str) -> str:
    """The registry's English reason ``text`` in ``lang`` (as it is when no template matches)."""
    if not text:
        return ""
    if lang == "en":
        return text  # the registry's own words
    words = "sv"
    for key, pattern in _patterns():
        found = pattern.match(text)
        if found:
            values = {k: METRIC_WORDS[words].get(v, v) for k, v in found.groupdict().items()}
            return GATE_REASONS[words][key].format(**values)
    return text
