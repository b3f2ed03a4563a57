"""Training data in Rasa's NLU YAML format (``version: "3.1"``, ``nlu:`` with ``intent`` and
``examples: |``): load, edit, hash and export.

Only the parts of Rasa's format that describe intents are used; inline entity annotations
(``[Göteborg](city)``) are reduced to their text, and ``synonym``/``regex``/``lookup`` blocks are
ignored on load.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nlu.result import INTENTS

DATA_DIR = Path(__file__).resolve().parent / "data"
TRAIN_PATH = DATA_DIR / "nlu.yml"
FAMILIES_PATH = DATA_DIR / "families.yml"
"""Paraphrase families (means and farewells, third-party reports, ...): part of the training data."""
MULTILINGUAL_PATH = DATA_DIR / "multilingual.yml"
"""Examples in the other languages: they train the embedding stage's classifier only."""
TEST_PATH = DATA_DIR / "test.yml"
BLIND_PATH = DATA_DIR / "eval_blind.yml"
"""The second held-out split, written from the intent definitions alone by someone who had not
read the training data."""
MULTILINGUAL_EVAL_PATH = DATA_DIR / "eval_multilingual.yml"
RASA_VERSION = "3.1"

_ENTITY = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


class DataError(ValueError):
    """The training data is not valid Rasa NLU YAML for this service."""


def _clean(example: str) -> str:
    return " ".join(_ENTITY.sub(r"\1", example).split())


@dataclass
class Dataset:
    """Examples per intent, in a stable order (the schema's intent order, then any others)."""

    examples: dict[str, list[str]] = field(default_factory=dict)

    # -- reading -------------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, text: str, *, strict: bool = True) -> Dataset:
        """Parse Rasa NLU YAML.  With ``strict``, intents outside the schema are an error."""
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise DataError(f"not valid YAML: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("nlu", []), list):
            raise DataError("expected a mapping with an 'nlu' list")
        ds = cls()
        for i, block in enumerate(doc.get("nlu") or []):
            if not isinstance(block, dict) or "intent" not in block:
                continue  # synonym, regex and lookup blocks
            intent = str(block["intent"])
            if strict and intent not in INTENTS:
                raise DataError(f"block {i}: intent {intent!r} is not in the triage schema")
            raw = block.get("examples", "")
            if isinstance(raw, list):  # a YAML list instead of a literal block: accept it
                lines = [str(x) for x in raw]
            elif isinstance(raw, str):
                lines = [ln.strip()[2:] for ln in raw.splitlines() if ln.strip().startswith("- ")]
            else:
                raise DataError(f"block {i}: 'examples' must be a '- ' list in a literal block")
            for line in lines:
                ds.add(intent, line)
        return ds

    @classmethod
    def load(cls, path: str | Path, *, strict: bool = True) -> Dataset:
        return cls.from_yaml(Path(path).read_text(encoding="utf-8"), strict=strict)

    # -- editing -------------------------------------------------------------------------------
    def add(self, intent: str, example: str) -> bool:
        """Add an example; returns False if it was empty or already present."""
        text = _clean(example)
        if not text:
            return False
        bucket = self.examples.setdefault(intent, [])
        if text in bucket:
            return False
        bucket.append(text)
        return True

    def remove(self, intent: str, example: str) -> bool:
        bucket = self.examples.get(intent, [])
        text = _clean(example)
        if text in bucket:
            bucket.remove(text)
            return True
        return False

    # -- views ---------------------------------------------------------------------------------
    def intents(self) -> list[str]:
        known = [i for i in INTENTS if self.examples.get(i)]
        return known + sorted(i for i in self.examples if i not in INTENTS and self.examples[i])

    def pairs(self) -> Iterator[tuple[str, str]]:
        """(text, intent) for every example."""
        for intent in self.intents():
            for text in self.examples[intent]:
                yield text, intent

    def counts(self) -> dict[str, int]:
        return {i: len(self.examples[i]) for i in self.intents()}

    def __len__(self) -> int:
        return sum(len(v) for v in self.examples.values())

    def content_hash(self) -> str:
        """SHA-256 over the canonical content: the same data always gives the same hash."""
        h = hashlib.sha256()
        for intent in self.intents():
            for text in sorted(self.examples[intent]):
                h.update(f"{intent}\t{text}\n".encode())
        return h.hexdigest()

    # -- writing -------------------------------------------------------------------------------
    def to_yaml(self) -> str:
        """Rasa 3 NLU YAML with ``examples: |`` literal blocks."""
        out = [f'version: "{RASA_VERSION}"', "nlu:"]
        for intent in self.intents():
            out.append(f"- intent: {intent}")
            out.append("  examples: |")
            out.extend(f"    - {text}" for text in self.examples[intent])
        return "\n".join(out) + "\n"

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_yaml(), encoding="utf-8")

    def to_dict(self) -> dict[str, Any]:
        return {i: list(self.examples[i]) for i in self.intents()}

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Dataset:
        ds = cls()
        for text, intent in pairs:
            ds.add(intent, text)
        return ds


def load_training_data(path: str | Path | None = None) -> Dataset:
    """The shipped training data (``nlu.yml`` and the paraphrase families), or one file."""
    if path is not None:
        return Dataset.load(path)
    ds = Dataset.load(TRAIN_PATH)
    if FAMILIES_PATH.exists():
        for text, intent in Dataset.load(FAMILIES_PATH).pairs():
            ds.add(intent, text)
    return ds


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled message with what evaluation groups it by."""

    text: str
    intent: str
    language: str = ""
    family: str = "plain"
    min_priority: str = ""


def load_examples(path: str | Path, *, default_language: str = "") -> list[Example]:
    """Every example of a Rasa NLU YAML file with its block's ``metadata`` (language, family,
    min_priority), in file order."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML: {exc}") from None
    out: list[Example] = []
    for block in (doc or {}).get("nlu") or []:
        if not isinstance(block, dict) or "intent" not in block:
            continue
        meta = block.get("metadata") or {}
        raw = block.get("examples", "")
        lines = [ln.strip()[2:] for ln in str(raw).splitlines() if ln.strip().startswith("- ")]
        for line in lines:
            text = _clean(line)
            if text:
                out.append(
                    Example(
                        text=text,
                        intent=str(block["intent"]),
                        language=str(meta.get("language", default_language)),
                        family=str(meta.get("family", "plain")),
                        min_priority=str(meta.get("min_priority", "")),
                    )
                )
    return out


def load_test_data(path: str | Path | None = None) -> Dataset:
    return Dataset.load(path or TEST_PATH)
