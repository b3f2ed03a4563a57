from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nlu.data import DataError, Dataset, load_training_data


def test_export_is_rasa_yaml_that_loads_back_identically(tmp_path: Path) -> None:
    ds = load_training_data()
    out = tmp_path / "nlu.yml"
    ds.save(out)
    text = out.read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    assert doc["version"] == "3.1"
    first = doc["nlu"][0]
    assert set(first) == {"intent", "examples"}
    assert first["examples"].startswith("- ")
    assert "  examples: |\n    - " in text
    again = Dataset.load(out)
    assert again.examples == ds.examples
    assert again.content_hash() == ds.content_hash()


def test_rasa_features_we_do_not_use_are_tolerated() -> None:
    text = """
version: "3.1"
nlu:
- intent: travel_conflict
  examples: |
    - min son har åkt till [Syrien](country)
    - he went to [Iraq]{"entity": "country"}
- synonym: Syrien
  examples: |
    - Syria
- regex: zip
  examples: |
    - \\d{5}
"""
    ds = Dataset.from_yaml(text)
    assert ds.examples == {"travel_conflict": ["min son har åkt till Syrien", "he went to Iraq"]}


def test_unknown_intent_and_broken_yaml_are_refused() -> None:
    with pytest.raises(DataError, match="not in the triage schema"):
        Dataset.from_yaml('version: "3.1"\nnlu:\n- intent: chitchat\n  examples: |\n    - hi\n')
    with pytest.raises(DataError):
        Dataset.from_yaml("nlu: [unclosed")


def test_add_remove_and_hash_change() -> None:
    ds = Dataset.from_pairs([("hej", "greet"), ("tack", "goodbye")])
    h = ds.content_hash()
    assert ds.add("greet", "  hallå   där ")
    assert not ds.add("greet", "hallå där")
    assert ds.examples["greet"] == ["hej", "hallå där"]
    assert ds.content_hash() != h
    assert ds.remove("greet", "hallå där")
    assert ds.content_hash() == h
