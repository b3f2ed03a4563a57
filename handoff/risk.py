"""The risk the NLU's risk stage reports, read tolerantly from where the pipeline stores it.

A message's triage record (``messages.triage``) may carry ``"risk"``: null, absent, or
``{"type": "self" | "others" | "threatened", "score": 0.0-1.0, "signals": [...], "reason": "..."}``;
a conversation whose priority the risk stage raised carries ``meta["risk"] = {"type", "reason"}``.
Records written before the risk stage existed have neither, and a record from a newer NLU may
have more: everything here reads what it knows and ignores the rest, never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RISK_TYPES: tuple[str, ...] = ("self", "others", "threatened")
MAX_REASON_CHARS = 200
MAX_SIGNALS = 20


def risk_of(value: Any) -> dict[str, Any] | None:
    """The risk in ``value`` (a triage record's or a conversation meta's ``risk``), or None.

    Returns ``{"type", "reason", "score", "signals"}``: ``type`` one of :data:`RISK_TYPES` (an
    unknown type is kept as None, the reason still shown), ``reason`` a short text (may be empty),
    ``score`` a float in 0..1 or None, ``signals`` a list of strings.
    """
    if not isinstance(value, Mapping):
        return None
    kind = value.get("type")
    reason = value.get("reason")
    score = value.get("score")
    signals = value.get("signals")
    out: dict[str, Any] = {
        "type": kind if kind in RISK_TYPES else None,
        "reason": " ".join(reason.split())[:MAX_REASON_CHARS] if isinstance(reason, str) else "",
        "score": float(score)
        if isinstance(score, int | float) and not isinstance(score, bool) and 0.0 <= score <= 1.0
        else None,
        "signals": [str(s)[:60] for s in signals[:MAX_SIGNALS]] if isinstance(signals, list) else [],
    }
    if out["type"] is None and not out["reason"]:
        return None
    return out


def triage_risk(triage: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The risk of one message's stored triage record."""
    return risk_of(triage.get("risk")) if isinstance(triage, Mapping) else None


def conversation_risk(meta: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``{"type", "reason"}`` of a conversation whose priority the risk stage raised, else None."""
    found = risk_of(meta.get("risk")) if isinstance(meta, Mapping) else None
    return {"type": found["type"], "reason": found["reason"]} if found else None


__all__ = ["RISK_TYPES", "conversation_risk", "risk_of", "triage_risk"]
