"""The quality bar, measured through the full triage (every stage on) on the project's held-out
splits: ``test.yml``; ``eval_blind.yml``, written from the intent definitions alone by someone who
had not read the training data; and ``eval_multilingual.yml`` in the eight other languages.

Critical recall at least 0.98, false alarms (non-critical messages made critical) at most 5%,
macro-F1 at least 0.90, and no danger message in any language below high."""

from __future__ import annotations

import time

import pytest

from nlu.classifier import ModelArtifact, train_artifact
from nlu.data import (
    BLIND_PATH,
    FAMILIES_PATH,
    MULTILINGUAL_EVAL_PATH,
    MULTILINGUAL_PATH,
    TEST_PATH,
    Dataset,
    load_examples,
    load_test_data,
    load_training_data,
)
from nlu.embedding import shared_stage
from nlu.evaluate import evaluate
from nlu.evaluate_groups import leave_one_family_out, report
from nlu.result import INTENTS, SUPPORTED_LANGUAGES
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


@pytest.fixture(scope="module")
def full_triager(model: ModelArtifact) -> EmbeddedTriager:
    return EmbeddedTriager(model, embedding=shared_stage())


@pytest.mark.parametrize("path", [TEST_PATH, BLIND_PATH, MULTILINGUAL_EVAL_PATH], ids=lambda p: p.name)
def test_held_out_splits_meet_the_quality_bar(full_triager: EmbeddedTriager, path: object) -> None:
    rep = report(str(path), load_examples(path), full_triager.parse_sync)  # type: ignore[arg-type]
    text = rep.to_text(include_misses=True)
    assert rep.overall.critical_recall >= 0.98, text
    assert rep.overall.false_alarm_rate <= 0.05, text
    assert rep.macro_f1 >= 0.90, text
    # No danger message in any language below high: per language, not only on average.
    assert {k: g.danger_below_high for k, g in rep.by_language.items() if g.danger_below_high} == {}, text


def test_multilingual_split_covers_every_supported_language() -> None:
    langs = {ex.language for ex in load_examples(MULTILINGUAL_EVAL_PATH)}
    assert langs == set(SUPPORTED_LANGUAGES) - {"sv", "en"}
    blind = {ex.language for ex in load_examples(BLIND_PATH)}
    assert blind == {"sv", "en"}


def test_evaluation_splits_are_not_in_the_training_data() -> None:
    train = {fold(t) for t, _ in load_training_data().pairs()}
    train |= {fold(ex.text) for ex in load_examples(MULTILINGUAL_PATH)}
    for path in (BLIND_PATH, MULTILINGUAL_EVAL_PATH):
        examples = load_examples(path)
        overlap = [ex.text for ex in examples if fold(ex.text) in train]
        # A few one-word greetings and thanks are the same everywhere; nothing more.
        assert len(overlap) <= 0.05 * len(examples), overlap


def test_every_training_family_is_evaluated_left_out() -> None:
    """Leave-one-family-out: a model that never saw a family still raises its danger messages."""
    families = load_examples(FAMILIES_PATH)
    figures = leave_one_family_out(
        Dataset.load(TEST_PATH.parent / "nlu.yml"),
        families,
        lambda artifact: EmbeddedTriager(artifact).parse_sync,
        skip=("plain", "informal", "second_language", "hard_negative"),
    )
    assert set(figures) == {
        "attack_preparation",
        "means_farewell",
        "mixed_precedence",
        "third_party",
        "threat_received",
    }
    for name, g in figures.items():
        assert g.n >= 20, name
        assert g.danger_below_high <= 0.1 * g.danger, (name, g.to_dict())
