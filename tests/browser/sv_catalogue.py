"""The Swedish catalogue, and whether a text the Swedish console shows comes from it (issue 17, item 2).

The catalogue is every Swedish value of the gettext catalogues (``gateway/locale/sv``) and of the
string dictionaries still in modules: every feature's ``strings.py`` (a dictionary with ``"sv"`` and
``"en"`` keys gives its ``"sv"`` side, whatever it holds), and the bot's safe responses.  A text on a
page is split at the separators the pages put between their parts (`` · ``, ``: ``, `` – ``,
brackets, commas); each part must be a catalogue value (a value with ``{placeholders}`` matches with
anything in their place), a number, date, time or punctuation, or data the test itself put there
(names, messages, the directory's names).  Anything else is reported: English, a raw key such as
``unknown_user``, a state such as ``documented``.
"""

from __future__ import annotations

import csv
import importlib
import pkgutil
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MODULES = ("handoff.console.i18n",)
SEPARATORS = re.compile(r"\s+·\s+|:\s+|\s+[–—→]\s+|[()\[\]]|,\s+|\s+/\s+|\s*\|\s*|\s*…\s*$|\n+")
IDENTIFIER = re.compile(r"^([0-9a-f]{8}|[0-9a-f]{32}|[A-Z]{1,4}\d{2,})$")
"""A conversation's id (or its first eight characters), a code such as a Kunskapshus id (KH1480)."""
NUMERIC = re.compile(r"^[\d\s.,:;/%+\-–—×#<>≥≤=*]*(h|min|s|d|kB|MB|st|%)?$")


YAML_FILES = (
    "handoff/data/documentation.yml",
    "handoff/data/recipients.yml",
    "handoff/data/kunskapshus.yml",
    "handoff/console/canned.yml",
)


def directory_names() -> list[str]:
    """The directory's municipalities and counties: data the pages show, not words of theirs."""
    with open(ROOT / "handoff" / "data" / "municipalities.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return sorted({r["name"] for r in rows} | {r["county_name"] for r in rows})


def _norm(text: str) -> str:
    return " ".join(text.split()).strip(" .!?\"”'*·:")


def _strings_modules() -> Iterable[str]:
    yield from MODULES
    import handoff

    for info in pkgutil.walk_packages(handoff.__path__, "handoff."):
        if info.name.endswith(".strings") or info.name.endswith("_strings"):
            yield info.name


def _swedish(value: Any, into: set[str], sv: bool = False, pairs: bool = False) -> None:
    """Into ``into``: the Swedish side of every {"sv": ..., "en": ...} in ``value``, of every
    object with ``sv`` and ``en`` attributes and (``pairs``, in a strings module) of every
    ("swedish", "english") pair."""
    if isinstance(value, str):
        if sv:
            into.add(value)
    elif isinstance(getattr(value, "sv", None), str) and isinstance(getattr(value, "en", None), str):
        into.add(value.sv)
    elif pairs and isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) for v in value):
        into.add(value[0])
    elif isinstance(value, dict):
        if sv:  # inside a Swedish side: every string is Swedish ({"sv": {"sv": "svenska", ...}})
            for item in value.values():
                _swedish(item, into, True)
        elif "sv" in value and "en" in value:
            _swedish(value["sv"], into, True)
            for key, item in value.items():
                if key not in ("sv", "en"):
                    _swedish(item, into, sv, pairs)
        else:
            for item in value.values():
                _swedish(item, into, sv, pairs)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _swedish(item, into, sv, pairs)


@cache
def catalogue() -> tuple[frozenset[str], tuple[re.Pattern[str], ...]]:
    from gateway import catalogues

    # The Swedish gettext catalogues (the console's and the person's), then what is still in modules.
    values: set[str] = set(catalogues.strings("console", "sv").values())
    values |= set(catalogues.strings("person", "sv").values())
    for name in _strings_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if not attr.startswith("__"):
                _swedish(value, values, pairs=True)
    # The bot's safe responses (all Swedish), and the data files with {sv, en} labels: the
    # documentation guidelines, the canned answers, the directory's recipients.
    responses = yaml.safe_load((ROOT / "nlu" / "data" / "responses.yml").read_text(encoding="utf-8"))
    _swedish(responses, values, True)
    for path in YAML_FILES:
        _swedish(yaml.safe_load((ROOT / path).read_text(encoding="utf-8")), values)
    plain: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for value in values:
        for text in [value, *SEPARATORS.split(value)]:
            text = _norm(text)
            if not text:
                continue
            if "{" in text:
                parts = re.split(r"\{\w+\}", text)
                if sum(c.isalpha() for c in "".join(parts)) < 4:
                    # A bare placeholder ("{status}") says nothing (its parts are checked); a short
                    # word beside a number ("v. {n}") is a word of the catalogue.
                    plain.update(p.strip(" .!?:") for p in parts if p.strip(" .!?:"))
                    continue
                patterns.append(re.compile("^" + ".+?".join(re.escape(p) for p in parts) + "$"))
            else:
                plain.add(text)
    return frozenset(plain), tuple(patterns)


def foreign_parts(texts: Iterable[str], data: Iterable[str]) -> list[str]:
    """The parts of ``texts`` that are neither Swedish catalogue text nor numbers nor ``data``."""
    plain, patterns = catalogue()
    known: set[str] = set()
    for d in data:
        whole = " ".join(d.split())
        known.update(t.strip(" .!?\"”'") for t in [whole, *SEPARATORS.split(whole)])
    found: list[str] = []

    def ok(text: str) -> bool:
        text = _norm(text)
        return (
            not text
            or NUMERIC.match(text) is not None
            or IDENTIFIER.match(text) is not None
            or text in plain
            or text in known
            or any(p.match(text) for p in patterns)
        )

    for raw in texts:
        whole = " ".join(raw.split()).strip(" .!?")
        if ok(whole):
            continue
        for part in SEPARATORS.split(whole):
            part = part.strip(" .!?\"”'*·:")
            # Numbers, dates and times beside words ("Avslutat 2026-12-04 10:35", "1000 tecken").
            bare = " ".join(w for w in part.split() if not NUMERIC.match(w))
            if not ok(part) and not ok(bare):
                found.append(part)
    return found
