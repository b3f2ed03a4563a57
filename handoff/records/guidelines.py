"""Documentation guidelines as configuration (``handoff/data/documentation.yml``).

:func:`load_guidelines` reads and validates the fields a closed conversation must be documented
with; :func:`validate_record` lists what is wrong with a record (missing mandatory fields, values
not allowed, a summary that is too long); :func:`prefill` suggests values from the triage intent
and the conversation's events, for the counsellor to confirm at close.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateway.errors import ConfigError
from handoff.directory.catalog import Directory
from handoff.directory.loading import default_directory

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "data" / "documentation.yml"
FIELD_TYPES: tuple[str, ...] = ("choice", "multi_choice", "bool", "text", "municipality", "recipients")
_FIELD_KEYS = frozenset({"key", "type", "mandatory", "label", "values", "max_length"})


class GuidelinesError(ConfigError):
    """The guidelines file is wrong; ``key`` names the field and the key."""


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label_sv: str
    label_en: str

    def label(self, language: str = "sv") -> str:
        return self.label_en if language == "en" else self.label_sv


@dataclass(frozen=True, slots=True)
class FieldSpec:
    key: str
    type: str
    mandatory: bool
    label_sv: str
    label_en: str
    values: tuple[Choice, ...] = ()
    max_length: int | None = None

    def label(self, language: str = "sv") -> str:
        return self.label_en if language == "en" else self.label_sv

    @property
    def allowed(self) -> tuple[str, ...]:
        return tuple(c.value for c in self.values)

    def choice(self, value: str) -> Choice | None:
        return next((c for c in self.values if c.value == value), None)


@dataclass(frozen=True, slots=True)
class Guidelines:
    version: int
    fields: tuple[FieldSpec, ...]

    def field(self, key: str) -> FieldSpec:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields)

    @property
    def mandatory(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields if f.mandatory)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with a record: ``code`` is missing, not_allowed, too_long, wrong_type,
    unknown_field or inconsistent."""

    field: str
    code: str
    message_sv: str
    message_en: str

    def message(self, language: str = "sv") -> str:
        return self.message_en if language == "en" else self.message_sv


# --------------------------------------------------------------------------------------------
# loading


def _label(raw: Mapping[str, Any], where: str) -> tuple[str, str]:
    label = raw.get("label")
    if not isinstance(label, Mapping):
        raise GuidelinesError(f"{where}.label", "must have 'sv' and 'en'")
    out: list[str] = []
    for lang in ("sv", "en"):
        text = label.get(lang)
        if not isinstance(text, str) or not text.strip():
            raise GuidelinesError(f"{where}.label.{lang}", "is missing or empty")
        out.append(text.strip())
    return out[0], out[1]


def _field(raw: Any, index: int, seen: set[str]) -> FieldSpec:
    where = f"fields[{index}]"
    if not isinstance(raw, Mapping):
        raise GuidelinesError(where, "must be a mapping")
    key = raw.get("key")
    if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", key):
        raise GuidelinesError(f"{where}.key", f"{key!r} must be lower-case letters, digits and '_'")
    where = f"fields[{index}] ({key})"
    if key in seen:
        raise GuidelinesError(f"{where}.key", "appears twice")
    unknown = set(raw) - _FIELD_KEYS
    if unknown:
        raise GuidelinesError(where, f"unknown keys {sorted(unknown)}; allowed: {sorted(_FIELD_KEYS)}")
    ftype = raw.get("type")
    if ftype not in FIELD_TYPES:
        raise GuidelinesError(f"{where}.type", f"{ftype!r} is not one of {', '.join(FIELD_TYPES)}")
    mandatory = raw.get("mandatory")
    if not isinstance(mandatory, bool):
        raise GuidelinesError(f"{where}.mandatory", f"must be true or false, not {mandatory!r}")
    label_sv, label_en = _label(raw, where)
    choices: list[Choice] = []
    if ftype in ("choice", "multi_choice"):
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            raise GuidelinesError(f"{where}.values", "a choice field needs a non-empty list of values")
        for j, item in enumerate(values):
            vwhere = f"{where}.values[{j}]"
            if not isinstance(item, Mapping) or "value" not in item:
                raise GuidelinesError(vwhere, "must be a mapping with 'value', 'sv' and 'en'")
            if not isinstance(item["value"], str):
                raise GuidelinesError(
                    f"{vwhere}.value", f"{item['value']!r} must be text (write it in quotes, e.g. '15_17')"
                )
            value = str(item["value"])
            if any(c.value == value for c in choices):
                raise GuidelinesError(vwhere, f"value {value!r} appears twice")
            texts = [item.get(lang) for lang in ("sv", "en")]
            if not all(isinstance(t, str) and t.strip() for t in texts):
                raise GuidelinesError(vwhere, f"value {value!r} needs labels 'sv' and 'en'")
            choices.append(Choice(value, str(texts[0]).strip(), str(texts[1]).strip()))
    elif "values" in raw:
        raise GuidelinesError(f"{where}.values", f"only choice fields have values, not {ftype}")
    max_length = raw.get("max_length")
    if ftype == "text":
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
            raise GuidelinesError(f"{where}.max_length", "a text field needs a positive max_length")
    elif max_length is not None:
        raise GuidelinesError(f"{where}.max_length", f"only text fields have max_length, not {ftype}")
    seen.add(key)
    return FieldSpec(key, str(ftype), mandatory, label_sv, label_en, tuple(choices), max_length)


def parse_guidelines(data: Any) -> Guidelines:
    if not isinstance(data, Mapping):
        raise GuidelinesError("documentation", "must be a mapping with 'version' and 'fields'")
    unknown = set(data) - {"version", "fields"}
    if unknown:
        raise GuidelinesError("documentation", f"unknown keys {sorted(unknown)}")
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise GuidelinesError("version", f"must be a number, not {version!r}")
    raw_fields = data.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise GuidelinesError("fields", "must be a non-empty list")
    seen: set[str] = set()
    fields = tuple(_field(raw, i, seen) for i, raw in enumerate(raw_fields))
    return Guidelines(version, fields)


def load_guidelines(path: str | Path | None = None) -> Guidelines:
    """Read and validate the documentation guidelines (default: the file shipped with the project)."""
    file = Path(path) if path is not None else DEFAULT_PATH
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GuidelinesError("documentation", f"file not found: {file}") from None
    except yaml.YAMLError as exc:
        raise GuidelinesError("documentation", f"{file} is not valid YAML: {exc}") from None
    return parse_guidelines(data)


def dump_guidelines(guidelines: Guidelines) -> str:
    """YAML that :func:`load_guidelines` reads back into the same guidelines."""
    fields: list[dict[str, Any]] = []
    for f in guidelines.fields:
        entry: dict[str, Any] = {"key": f.key, "type": f.type, "mandatory": f.mandatory}
        if f.max_length is not None:
            entry["max_length"] = f.max_length
        entry["label"] = {"sv": f.label_sv, "en": f.label_en}
        if f.values:
            entry["values"] = [{"value": c.value, "sv": c.label_sv, "en": c.label_en} for c in f.values]
        fields.append(entry)
    return yaml.safe_dump(
        {"version": guidelines.version, "fields": fields}, allow_unicode=True, sort_keys=False, width=110
    )


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

    def err(f: FieldSpec | str, code: str, sv: str, en: str) -> None:
        key = f if isinstance(f, str) else f.key
        errors.append(FieldError(key, code, sv, en))

    for key in record:
        if key not in guidelines.keys:
            err(key, "unknown_field", f"Okänt fält {key!r}.", f"Unknown field {key!r}.")

    for f in guidelines.fields:
        value = record.get(f.key)
        if _empty(value):
            if f.mandatory:
                err(f, "missing", f"{f.label_sv}: måste fyllas i.", f"{f.label_en}: is required.")
            continue
        if f.type == "choice":
            if not isinstance(value, str):
                err(f, "wrong_type", f"{f.label_sv}: välj ett värde.", f"{f.label_en}: choose one value.")
            elif value not in f.allowed:
                err(
                    f,
                    "not_allowed",
                    f"{f.label_sv}: {value!r} är inte tillåtet; välj bland {', '.join(f.allowed)}.",
                    f"{f.label_en}: {value!r} is not allowed; choose from {', '.join(f.allowed)}.",
                )
        elif f.type == "multi_choice":
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                err(f, "wrong_type", f"{f.label_sv}: ange en lista.", f"{f.label_en}: give a list.")
            else:
                bad = [v for v in value if v not in f.allowed]
                if bad:
                    err(
                        f,
                        "not_allowed",
                        f"{f.label_sv}: {', '.join(map(repr, bad))} är inte tillåtet.",
                        f"{f.label_en}: {', '.join(map(repr, bad))} not allowed.",
                    )
        elif f.type == "bool":
            if not isinstance(value, bool):
                err(f, "wrong_type", f"{f.label_sv}: ange ja eller nej.", f"{f.label_en}: answer yes or no.")
        elif f.type == "text":
            if not isinstance(value, str):
                err(f, "wrong_type", f"{f.label_sv}: ange text.", f"{f.label_en}: give text.")
            elif f.max_length is not None and len(value.strip()) > f.max_length:
                err(
                    f,
                    "too_long",
                    f"{f.label_sv}: högst {f.max_length} tecken ({len(value.strip())} angivna).",
                    f"{f.label_en}: at most {f.max_length} characters ({len(value.strip())} given).",
                )
        elif f.type == "municipality":
            d = directory if directory is not None else default_directory()
            if not isinstance(value, str) or d.municipality(value) is None:
                err(
                    f,
                    "not_allowed",
                    f"{f.label_sv}: {value!r} är ingen kommunkod (SCB, fyra siffror).",
                    f"{f.label_en}: {value!r} is not a municipality code (SCB, four digits).",
                )
        elif f.type == "recipients":
            d = directory if directory is not None else default_directory()
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                err(f, "wrong_type", f"{f.label_sv}: ange en lista.", f"{f.label_en}: give a list.")
            else:
                # Any entry, active or not: the record names whom the conversation was referred
                # to, also a recipient deactivated since (or added by an admin: the current directory).
                bad = [v for v in value if d.entry(v) is None]
                if bad:
                    err(
                        f,
                        "not_allowed",
                        f"{f.label_sv}: okänd mottagare {', '.join(map(repr, bad))}.",
                        f"{f.label_en}: unknown recipient {', '.join(map(repr, bad))}.",
                    )

    if (
        "referral_made" in guidelines.keys
        and "referral_recipients" in guidelines.keys
        and record.get("referral_made") is False
        and not _empty(record.get("referral_recipients"))
    ):
        err(
            "referral_made",
            "inconsistent",
            "Slussning gjord: mottagare är angivna men slussning är markerad som inte gjord.",
            "Referral made: recipients are given but the referral is marked as not made.",
        )
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
