"""The pipeline's hand-off to triage (:mod:`nlu`): which messages skip it, a triage that fails, and
what of its result is stored with the message."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from gateway import catalogues
from gateway.envelope import Envelope, Priority
from nlu.answers import is_bare_answer
from nlu.result import INTENT_PRIORITY, Triager, TriageResult

if TYPE_CHECKING:
    from gateway.metrics import Metrics

log = logging.getLogger("gateway.pipeline")  # the name its records had before the split


def untriaged_reason(envelope: Envelope, text: str) -> str | None:
    """Why a message is stored without triage: mail the channel recognised as automatic (an
    out-of-office reply is not a person's words), or a one-word answer ("ja", "nej", "ok"),
    which answers a question (a consent question, a counsellor's) and says nothing to
    triage.  Such a message never raises a priority, never opens a queued conversation and
    gets no automatic answer."""
    if envelope.meta.get("automatic"):
        return "automatic"
    if is_bare_answer(text):
        return "answer"
    return None


async def triage(triager: Triager, text: str, hint: Any, metrics: Metrics | None = None) -> TriageResult:
    started = time.perf_counter()
    try:
        result = await triager.parse(text, str(hint) if hint else None)
        if metrics is not None:
            metrics.triaged(result.extra.get("stages_ms") or {}, time.perf_counter() - started)
        return result
    except Exception as exc:
        # Never lose or delay a message because triage failed: queue it high for a person.
        log.error("triage failed (%s); queued for a counsellor at high priority", type(exc).__name__)
        lang = catalogues.pick("person", str(hint) if hint else None)
        return TriageResult(
            text=text,
            intent="human_request",
            confidence=0.0,
            language=lang,
            priority=Priority.HIGH,
            safe_response=catalogues.text("person", lang, "notice.triage_failed"),
            matched_rules=("triage_error",),
            backend="none",
        )


def triage_record(t: TriageResult) -> dict[str, Any]:
    data = t.to_dict()
    data.pop("text", None)
    data["backend"] = t.backend
    data["model_version"] = t.model_version
    data["intent_priority"] = INTENT_PRIORITY.get(t.intent, Priority.NORMAL).label
    return data
