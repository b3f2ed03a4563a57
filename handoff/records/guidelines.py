"""Documentation guidelines as configuration (``handoff/data/documentation.yml``).

:func:`load_guidelines` reads and validates the fields a closed conversation must be documented
with (:func:`dump_guidelines` writes them back); what is wrong with a record and what to prefill are
in :mod:`handoff.records.guideline_checks`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateway.errors import ConfigError

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
