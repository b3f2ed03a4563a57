"""Why a conversation is where it is: its language, and the risk (or the rules) behind its priority.

Shown next to the triage in the conversation view.  The risk is that of the latest person's
message whose triage record has one (the NLU's risk stage); a conversation whose priority the risk
stage raised but whose messages carry no readable risk falls back to ``meta["risk"]``.  Without any
risk, the rules that matched the message that gave the conversation its priority are shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from gateway.envelope import Priority
from handoff.risk import conversation_risk, triage_risk

from .i18n import language_name


class _Triaged(Protocol):
    seq: int
    triage: dict[str, Any] | None


def priority_rank(triage: Mapping[str, Any] | None, seq: int) -> tuple[int, int]:
    """Order of seriousness of a message's triage (the later of equally serious ones first)."""
    label = str((triage or {}).get("priority", "low"))
    try:
        return int(Priority.from_label(label)), seq
    except ValueError:
        return 0, seq


def explain(
    language: str | None,
    meta: Mapping[str, Any] | None,
    person_messages: Sequence[_Triaged],
    lang: str,
) -> dict[str, Any]:
    """``{"language", "language_name", "risk", "matched_rules", "rules_seq", "rules_priority"}``.

    ``person_messages`` are the person's messages that have a triage record, in ``seq`` order.
    ``risk`` is ``{"type", "reason", "score", "signals", "seq"}`` (``seq`` None when it comes from
    the conversation's meta) or None.
    """
    risk: dict[str, Any] | None = None
    for msg in reversed(person_messages):
        found = triage_risk(msg.triage)
        if found is not None:
            risk = {**found, "seq": msg.seq}
            break
    if risk is None:
        from_meta = conversation_risk(meta)
        if from_meta is not None:
            risk = {**from_meta, "score": None, "signals": [], "seq": None}
    rules: list[str] = []
    rules_seq: int | None = None
    rules_priority: str | None = None
    if person_messages:
        top = max(person_messages, key=lambda m: priority_rank(m.triage, m.seq))
        rules = [str(r) for r in (top.triage or {}).get("matched_rules") or []]
        rules_seq = top.seq
        rules_priority = (top.triage or {}).get("priority")
    code = language or "und"
    return {
        "language": code,
        "language_name": language_name(code, lang),
        "risk": risk,
        "matched_rules": rules,
        "rules_seq": rules_seq,
        "rules_priority": rules_priority,
    }


__all__ = ["explain", "priority_rank"]
