"""The multilingual embedding stage: pinned, shipped with a current head, and off the loop."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from gateway.envelope import Priority
from nlu.classifier import ModelArtifact
from nlu.embedding import MODEL_SHA256, EmbeddingHead, EmbeddingStage, shared_stage
from nlu.evaluate_cmd import head_data_hash
from nlu.triage import EmbeddedTriager


def test_model_is_the_pinned_file() -> None:
    stage = shared_stage()
    assert stage.available, stage.health()
    assert len(MODEL_SHA256) == 64


def test_shipped_head_was_trained_on_the_current_data() -> None:
    """Changing the training data without ``helpline nlu train-head`` fails here."""
    assert EmbeddingHead.load().data_hash == head_data_hash()


def test_head_round_trips_without_pickle() -> None:
    head = EmbeddingHead(("a", "b"), np.eye(2, 3), np.zeros(2), "hash")
    again = EmbeddingHead.from_bytes(head.to_bytes())
    assert again.classes == ("a", "b") and again.data_hash == "hash"
    assert again.rank(np.array([1.0, 0.0, 0.0]))[0][0] == "a"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("سأقتل نفسي الليلة، لا أستطيع التحمل أكثر", "ar"),
        ("امشب خودم را می‌کشم، دیگر تحمل ندارم", "fa"),
        ("Bu gece kendimi öldüreceğim, artık dayanamıyorum", "tr"),
        ("Я сегодня ночью покончу с собой", "ru"),
    ],
)
def test_danger_in_other_languages_is_critical_and_answered_in_that_language(
    model: ModelArtifact, text: str, language: str
) -> None:
    r = EmbeddedTriager(model, embedding=shared_stage()).parse_sync(text)
    assert r.language == language
    assert r.priority == Priority.CRITICAL, r
    assert "112" in r.safe_response and "90101" in r.safe_response
    # Answered in the person's language (not the Swedish text), saying counsellors may answer in sv/en.
    assert r.safe_response != EmbeddedTriager(model).responses.get(r.intent, "sv")


def test_without_the_model_another_language_is_never_below_normal(model: ModelArtifact) -> None:
    r = EmbeddedTriager(model, embedding=None).parse_sync("Ubaxyahay, sidee tahay? Waxaan rabaa macluumaad")
    assert r.language == "so"
    assert r.priority >= Priority.NORMAL


def test_without_the_model_the_lexicon_still_raises_danger(model: ModelArtifact) -> None:
    r = EmbeddedTriager(model, embedding=None).parse_sync("Bu gece kendimi öldüreceğim")
    assert r.priority == Priority.CRITICAL
    assert r.risk is not None


class _RecordingStage(EmbeddingStage):
    def __init__(self) -> None:
        super().__init__(shared_stage().embedder, shared_stage().head)
        self.threads: list[str] = []

    def rank(self, text: str) -> list[tuple[str, float]] | None:
        self.threads.append(threading.current_thread().name)
        return super().rank(text)


async def test_the_model_runs_off_the_event_loop(model: ModelArtifact) -> None:
    stage = _RecordingStage()
    triager = EmbeddedTriager(model, embedding=stage)
    try:
        r = await triager.parse("Мой сын вступил в группу, я очень боюсь")
        assert r.language == "ru"
        assert stage.threads and all(t != threading.current_thread().name for t in stage.threads)
        assert "embedding_ms" in r.extra["stages_ms"]
        # A Swedish greeting is not near the critical boundary: the model is not asked.
        stage.threads.clear()
        await triager.parse("hej hej")
        assert stage.threads == []
    finally:
        await triager.close()


def test_concurrent_embeddings_equal_sequential_ones() -> None:
    """The admin's evaluation thread and the triager's worker may embed at the same time."""
    from concurrent.futures import ThreadPoolExecutor

    embedder = shared_stage().embedder
    texts = ["Мой сын вступил в группу", "سأقتل نفسي الليلة", "Oğlum bir gruba katıldı", "hej"] * 3
    alone = [embedder.embed([t])[0] for t in texts]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda t: embedder.embed([t])[0], texts))
    for a, b in zip(alone, together, strict=True):
        assert np.allclose(a, b)
