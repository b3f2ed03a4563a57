"""The quality bar of issue 4, measured on the held-out test split through the full triage."""

from __future__ import annotations

import time

from nlu.classifier import ModelArtifact, train_artifact
from nlu.data import load_test_data, load_training_data
from nlu.evaluate import evaluate
from nlu.result import INTENTS
from nlu.text import fold
from nlu.triage import EmbeddedTriager


def test_training_data_covers_every_intent_with_at_least_60_examples() -> None:
    counts = load_training_data().counts()
    assert set(counts) == set(INTENTS)
    assert min(counts.values()) >= 60, counts


def test_test_split_is_separate_from_training_data() -> None:
    train = {fold(t) for t, _ in load_training_data().pairs()}
    test = load_test_data()
    assert min(test.counts().values()) >= 20
    assert set(test.counts()) == set(INTENTS)
    overlap = [t for t, _ in test.pairs() if fold(t) in train]
    assert overlap == []


def test_test_split_meets_the_quality_bar(model: ModelArtifact) -> None:
    ev = evaluate(load_test_data(), EmbeddedTriager(model).parse_sync)
    assert ev.critical_recall >= 0.98, ev.to_text(include_errors=True)
    assert ev.macro_f1 >= 0.90, ev.to_text(include_errors=True)


def test_training_takes_under_ten_seconds() -> None:
    started = time.perf_counter()
    artifact = train_artifact(load_training_data())
    assert time.perf_counter() - started < 10
    assert artifact.train_seconds < 10
