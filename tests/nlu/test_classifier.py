from __future__ import annotations

from pathlib import Path

import pytest

from nlu.classifier import ModelArtifact, ModelFormatError, train_artifact
from nlu.data import Dataset, load_training_data
from nlu.result import INTENTS


def test_artifact_round_trip_predicts_the_same(model: ModelArtifact, tmp_path: Path) -> None:
    path = tmp_path / "model.zip"
    model.with_metrics({"macro_f1": 0.9}).save(str(path))
    loaded = ModelArtifact.load(str(path))
    assert loaded.version == model.version
    assert loaded.data_hash == load_training_data().content_hash()
    assert loaded.metrics == {"macro_f1": 0.9}
    for text in ("jag vill inte leva", "hello", "min son har åkt till Syrien", "🙂", ""):
        got, expected = loaded.classifier.predict(text), model.classifier.predict(text)
        assert [name for name, _ in got] == [name for name, _ in expected]
        assert [conf for _, conf in got] == pytest.approx([conf for _, conf in expected])


def test_ranking_covers_all_intents_and_sums_to_one(model: ModelArtifact) -> None:
    ranking = model.classifier.predict("jag är orolig för min bror")
    assert sorted(n for n, _ in ranking) == sorted(INTENTS)
    assert sum(p for _, p in ranking) == pytest.approx(1.0)
    assert [p for _, p in ranking] == sorted((p for _, p in ranking), reverse=True)


def test_missing_diacritics_give_the_same_answer(model: ModelArtifact) -> None:
    a = model.classifier.predict("min dotter har börjat umgås med nazister och jag är orolig")
    b = model.classifier.predict("min dotter har borjat umgas med nazister och jag ar orolig")
    assert a[0][0] == b[0][0] == "concern_relative"


def test_garbage_is_not_a_model() -> None:
    with pytest.raises(ModelFormatError):
        ModelArtifact.from_bytes(b"not a zip")


def test_versions_differ_and_record_the_data() -> None:
    ds = Dataset.from_pairs(
        [("hej", "greet"), ("hallå", "greet"), ("tack", "goodbye"), ("hej då", "goodbye")]
    )
    a, b = train_artifact(ds), train_artifact(ds)
    assert a.version != b.version
    assert a.data_hash == b.data_hash == ds.content_hash()
    assert a.n_examples == 4
    with pytest.raises(ValueError):
        train_artifact(Dataset.from_pairs([("hej", "greet")]))
