"""Records under the guidelines (:mod:`handoff.records.guidelines`).

:func:`validate_record` lists what is wrong with a record (missing mandatory fields, values not
allowed, a summary that is too long); :func:`prefill` suggests values from the triage intent and the
conversation's events, for the counsellor to confirm at close.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gateway import catalogues
from handoff.directory.catalog import Directory
from handoff.directory.loading import default_directory
from handoff.records.guidelines import FieldError, FieldSpec, Guidelines

# --------------------------------------------------------------------------------------------
# validation


def _empty(value: Any) -> bool:
    return value is None or (
        isinstance(value, str | list | tuple) and not (value.strip() if isinstance(value, str) else value)
    )


def validate_record(
    guidelines: Guidelines, record: Mapping[str, Any], *, directory: Directory | None = None
) -> list[FieldError]:
    """Everything wrong with a documentation record; an empty list means it may be saved."""
    errors: list[FieldError] = []

    def err(f: FieldSpec | str, code: str, msgid: str, **fmt: object) -> None:
        """One error, its words from the console catalogue (``record_check.*``), ``{label}`` the
        field's label in each language."""
        key = f if isinstance(f, str) else f.key
        label = {"sv": key, "en": key} if isinstance(f, str) else {"sv": f.label_sv, "en": f.label_en}
        sv, en = (
            catalogues.text("console", lang, f"record_check.{msgid}", label=label[lang], **fmt)
            for lang in ("sv", "en")
        )
        errors.append(FieldError(key, code, sv, en))

    for key in record:
        if key not in guidelines.keys:
            err(key, "unknown_field", "unknown_field", key=repr(key))

    for f in guidelines.fields:
        value = record.get(f.key)
        if _empty(value):
            if f.mandatory:
                err(f, "missing", "missing")
            continue
        if f.type == "choice":
            if not isinstance(value, str):
                err(f, "wrong_type", "choose_one")
            elif value not in f.allowed:
                err(f, "not_allowed", "choice_not_allowed", value=repr(value), allowed=", ".join(f.allowed))
        elif f.type == "multi_choice":
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                err(f, "wrong_type", "give_list")
            else:
                bad = [v for v in value if v not in f.allowed]
                if bad:
                    err(f, "not_allowed", "list_not_allowed", bad=", ".join(map(repr, bad)))
        elif f.type == "bool":
            if not isinstance(value, bool):
                err(f, "wrong_type", "yes_or_no")
        elif f.type == "text":
            if not isinstance(value, str):
                err(f, "wrong_type", "give_text")
            elif f.max_length is not None and len(value.strip()) > f.max_length:
                err(f, "too_long", "too_long", max=f.max_length, given=len(value.strip()))
        elif f.type == "municipality":
            d = directory if directory is not None else default_directory()
            if not isinstance(value, str) or d.municipality(value) is None:
                err(f, "not_allowed", "not_municipality", value=repr(value))
        elif f.type == "recipients":
            d = directory if directory is not None else default_directory()
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                err(f, "wrong_type", "give_list")
            else:
                # Any entry, active or not: the record names whom the conversation was referred
                # to, also a recipient deactivated since (or added by an admin: the current directory).
                bad = [v for v in value if d.entry(v) is None]
                if bad:
                    err(f, "not_allowed", "unknown_recipient", bad=", ".join(map(repr, bad)))

    if (
        "referral_made" in guidelines.keys
        and "referral_recipients" in guidelines.keys
        and record.get("referral_made") is False
        and not _empty(record.get("referral_recipients"))
    ):
        err("referral_made", "inconsistent", "referral_inconsistent")
    return errors


# --------------------------------------------------------------------------------------------
# prefill

_INTENT_PREFILL: dict[str, dict[str, Any]] = {
    "leave_movement": {
        "contact_type": "person_leaving",
        "relation": "self",
        "advice_given": ["exit_support"],
    },
    "concern_relative": {"contact_type": "relative"},
    "concern_professional": {"contact_type": "professional"},
    "self_harm": {"advice_given": ["healthcare"], "outcome": "emergency"},
    "urgent_threat": {"outcome": "emergency"},
    "info_request": {"advice_given": ["information"]},
    "out_of_scope": {"outcome": "out_of_scope"},
}
_REFERRAL_EVENTS = frozenset({"referred", "referral", "referral_sent", "referral_made"})
_DISCLOSURE_EVENTS = frozenset({"disclosed", "disclosure", "disclosure_sent", "crime_information_passed"})
_CANCELLED = frozenset({"refused", "consent_refused", "cancelled", "canceled", "withdrawn", "failed"})


def _local(recipient_id: str, directory: Directory | None) -> bool:
    """Whether a referral to ``recipient_id`` is to local support (the current directory decides
    for the recipients an admin added or gave an area)."""
    if recipient_id.startswith(("socialtjanst-", "kunskapshus-")):
        return True
    d = directory if directory is not None else default_directory()
    r = d.entry(recipient_id)
    return r is not None and (r.kind == "municipal" or r.has_area)


def _get(event: Any, *names: str) -> Any:
    for name in names:
        if isinstance(event, Mapping):
            if name in event:
                return event[name]
        elif hasattr(event, name):
            return getattr(event, name)
    return None


def prefill(
    triage_intent: str | None, events: Iterable[Any] = (), *, directory: Directory | None = None
) -> dict[str, Any]:
    """Suggested values for the documentation form, from the triage intent and the events.

    Events are mappings (or objects) with ``type`` (or ``kind``): ``referred`` (with
    ``recipient_id``), ``disclosed``, ``municipality`` (with ``code``).  A referral or disclosure
    whose ``status`` is refused, cancelled or failed does not count.  With no referral or
    disclosure event, ``referral_made`` and ``crime_information_passed`` are suggested as false.
    A referral to local support (social services, a Kunskapshus, or a recipient of ``directory``
    that is municipal or serves an area of its own) suggests the advice ``local_support``.
    """
    suggestion: dict[str, Any] = {}
    for key, value in _INTENT_PREFILL.get(triage_intent or "", {}).items():
        suggestion[key] = list(value) if isinstance(value, list) else value

    referred: list[str] = []
    referral_made = False
    disclosed = False
    for event in events:
        kind = str(_get(event, "type", "kind") or "")
        status = str(_get(event, "status") or "")
        if status in _CANCELLED or _get(event, "consent") is False:
            continue
        if kind in _REFERRAL_EVENTS:
            referral_made = True
            rid = _get(event, "recipient_id", "recipient")
            if isinstance(rid, str) and rid and rid not in referred:
                referred.append(rid)
        elif kind in _DISCLOSURE_EVENTS:
            disclosed = True
        elif kind in ("municipality", "municipality_given"):
            code = _get(event, "code", "municipality_code")
            if isinstance(code, str) and code:
                suggestion["municipality"] = code

    suggestion["referral_made"] = referral_made
    if referred:
        suggestion["referral_recipients"] = referred
    suggestion["crime_information_passed"] = disclosed
    if suggestion.get("outcome") != "emergency":
        if disclosed:
            suggestion["outcome"] = "crime_information_passed"
        elif referral_made:
            suggestion["outcome"] = "referred"
    advice = suggestion.setdefault("advice_given", [])
    if referral_made and "local_support" not in advice and any(_local(r, directory) for r in referred):
        advice.append("local_support")
    if disclosed and "contact_police" not in advice:
        advice.append("contact_police")
    if not advice:
        del suggestion["advice_given"]
    return suggestion
