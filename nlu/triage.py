"""Triage: language, intent, risk, priority and safe response for one message.

``build_triager`` is what the gateway calls.  Stages, in order (every one deterministic):

1. **language** (:mod:`nlu.language`): sv, en, ar, fa, so, ti, tr, ku, bs, ru or ``und``;
2. **intent ranking**: the word classifier (:mod:`nlu.classifier`, or a Rasa server) for Swedish
   and English; the multilingual embedding stage (:mod:`nlu.embedding`) for every other language,
   and as a second opinion on a Swedish or English message near the critical boundary;
3. the **decision layer** (:mod:`nlu.decision`) over the ranking: a safety margin (a critical intent with at least
   ``critical_margin`` probability wins), the schema's precedence (``travel_conflict`` over
   ``leave_movement`` and ``concern_*``; ``human_request`` only when nothing more substantive is
   likely) and the safety rules (:mod:`nlu.rules`), which can raise but never lower;
4. the **risk stage** (:mod:`nlu.risk`), whose only job is recall on danger to self and others:
   it can raise a message to high or critical, never lower it, and says why;
5. a **floor**: a message in a language no model here could triage is never below normal.

Message text is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError
from nlu.classifier import ModelArtifact, ModelFormatError, train_artifact
from nlu.data import Dataset, load_training_data
from nlu.decision import DEFAULT_CONFIG, TriageConfig, build_result, critical_probability, decide
from nlu.embedding import EmbeddingStage, shared_stage
from nlu.language import detect_language
from nlu.responses import ResponseBook, default_responses
from nlu.result import LANGUAGES, Triager, TriageResult
from nlu.risk_lexicon import default_lexicon
from nlu.rules import PRECEDENCE_RANK
from nlu.text import fold

log = logging.getLogger(__name__)

MAX_MODEL_CHARS = 4000
"""The classifier reads at most this much of a message (long e-mails); the rules read all of it."""


@dataclass
class _Prepared:
    """The cheap stages of one parse, and whether the embedding stage must run."""

    text: str
    folded: str
    language: str
    ranking: list[tuple[str, float]]
    covered: bool  # the word classifier covers the language
    needs_embedding: bool
    timings: dict[str, float] = field(default_factory=dict)


class EmbeddedTriager:
    """Triage with the embedded classifier.  ``reload`` swaps the model while running.

    ``parse`` runs the cheap stages on the event loop (well under a millisecond) and the
    embedding stage, when a message needs it, in one worker thread, so that the loop never waits
    for the model.  ``parse_sync`` runs everything in the calling thread (evaluation, CLI).
    """

    backend = "embedded"

    def __init__(
        self,
        model: ModelArtifact,
        responses: ResponseBook | None = None,
        config: TriageConfig = DEFAULT_CONFIG,
        embedding: EmbeddingStage | None = None,
    ) -> None:
        self._model = model
        self._responses = responses or default_responses()
        self.config = config
        self.embedding = embedding
        self._lock = threading.Lock()
        self._loaded_at = time.time()
        self._parsed = 0
        self._executor: ThreadPoolExecutor | None = None

    @property
    def model(self) -> ModelArtifact:
        return self._model

    @property
    def responses(self) -> ResponseBook:
        return self._responses

    def reload(self, model: ModelArtifact) -> None:
        """Switch to another model; parses already running finish with the old one."""
        with self._lock:
            self._model = model
            self._loaded_at = time.time()
        log.info("nlu model switched to %s", model.version)

    def set_responses(self, responses: ResponseBook) -> None:
        responses.validate()
        self._responses = responses

    def _prepare(self, text: str, language_hint: str | None) -> _Prepared:
        t0 = time.perf_counter()
        folded = fold(text)
        lang = detect_language(text, language_hint, folded=folded).language
        t1 = time.perf_counter()
        covered = lang in LANGUAGES
        ranking: list[tuple[str, float]] = []
        if covered and folded:
            ranking = self._model.classifier.predict_folded(folded[:MAX_MODEL_CHARS])
        t2 = time.perf_counter()
        needs = self.embedding is not None and bool(text.strip())
        if needs and covered:
            p = critical_probability(ranking)
            needs = self.config.second_opinion_from <= p < self.config.critical_margin
        timings = {"language_ms": (t1 - t0) * 1000, "classifier_ms": (t2 - t1) * 1000}
        return _Prepared(text, folded, lang, ranking, covered, needs, timings)

    def _embed(self, prep: _Prepared) -> list[tuple[str, float]] | None:
        assert self.embedding is not None
        t0 = time.perf_counter()
        try:
            found = self.embedding.rank(prep.text)
        except Exception as exc:  # the other stages still decide; never lose a message to it
            log.warning("embedding stage failed (%s)", type(exc).__name__)
            found = None
        prep.timings["embedding_ms"] = (time.perf_counter() - t0) * 1000
        return found

    def _finish(self, prep: _Prepared, embedded: list[tuple[str, float]] | None) -> TriageResult:
        t0 = time.perf_counter()
        ranking, second = prep.ranking, None
        if prep.covered:
            second = embedded
        elif embedded is not None:
            ranking = embedded
        self._parsed += 1
        result = build_result(
            prep.text,
            ranking,
            language_hint=None,
            responses=self._responses,
            backend=self.backend,
            model_version=self._model.version,
            config=self.config,
            folded=prep.folded,
            language=prep.language,
            second_opinion=second,
            model_covers_language=prep.covered or embedded is not None,
            ranked_by_embedding=not prep.covered and embedded is not None,
            extra={"stages_ms": prep.timings},
        )
        prep.timings["decision_ms"] = (time.perf_counter() - t0) * 1000
        prep.timings.update({k: round(v, 3) for k, v in prep.timings.items()})
        return result

    def result_from_ranking(
        self,
        text: str,
        ranking: Sequence[tuple[str, float]],
        *,
        language_hint: str | None,
        backend: str,
        model_version: str,
        entities: Sequence[dict[str, Any]] = (),
    ) -> TriageResult:
        """The result of an intent ranking another backend made (Rasa), with this triager's
        responses and configuration."""
        return build_result(
            text,
            ranking,
            language_hint=language_hint,
            responses=self.responses,
            backend=backend,
            model_version=model_version,
            entities=entities,
            config=self.config,
        )

    def parse_sync(self, text: str, language_hint: str | None = None) -> TriageResult:
        prep = self._prepare(text, language_hint)
        return self._finish(prep, self._embed(prep) if prep.needs_embedding else None)

    async def parse(self, text: str, language_hint: str | None = None) -> TriageResult:
        prep = self._prepare(text, language_hint)
        embedded = None
        if prep.needs_embedding:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu-embedding")
            embedded = await asyncio.get_running_loop().run_in_executor(self._executor, self._embed, prep)
        return self._finish(prep, embedded)

    async def close(self) -> None:
        """Stop the embedding worker thread (if one was started)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def health(self) -> dict[str, Any]:
        m = self._model
        out: dict[str, Any] = {
            "backend": self.backend,
            "state": "ok",
            "model_version": m.version,
            "model_created": m.created,
            "data_hash": m.data_hash,
            "loaded_at": self._loaded_at,
            "parsed": self._parsed,
            "metrics": {k: m.metrics[k] for k in ("macro_f1", "critical_recall") if k in m.metrics},
        }
        if self.embedding is not None:
            out["embedding"] = self.embedding.health()
            if not out["embedding"]["available"]:
                out["state"] = "degraded"
        return out


_trained: dict[str, ModelArtifact] = {}


def default_model(dataset: Dataset | None = None) -> ModelArtifact:
    """A model trained on the shipped training data (once per process and data version)."""
    ds = dataset or load_training_data()
    key = ds.content_hash()
    if key not in _trained:
        _trained[key] = train_artifact(ds, note="trained at start")
    return _trained[key]


def load_model(model_path: str | Path) -> ModelArtifact:
    try:
        return ModelArtifact.load(str(model_path))
    except OSError as exc:
        raise ConfigError("nlu.model_path", f"cannot read {model_path}: {exc.strerror}") from None
    except ModelFormatError as exc:
        raise ConfigError("nlu.model_path", str(exc)) from None


def build_triager(
    backend: str = "embedded",
    rasa_url: str | None = None,
    model_path: str | None = None,
    timeout: float = 2.0,
    embedding: bool = True,
) -> Triager:
    """The triager the gateway uses.

    ``backend="embedded"``: the embedded classifier, loaded from ``model_path`` or trained from
    the shipped data at start.  ``backend="rasa"``: a Rasa server at ``rasa_url`` (``POST
    /model/parse``, ``timeout`` seconds per request), falling back to the embedded classifier
    while the server is down.  Raises ConfigError for an unknown backend, a missing URL or an
    unreadable model file.
    """
    model = load_model(model_path) if model_path else default_model()
    embedded = EmbeddedTriager(model, embedding=shared_stage() if embedding else None)
    # Load the language model, the lexicon and the embedding model now, not on a person's first
    # message (each is loaded once per process).
    detect_language("hej, jag vill prata med någon")
    default_lexicon()
    if embedded.embedding is not None and not embedded.embedding.available:
        log.warning("nlu: embedding stage unavailable; other languages use the lexicon and a normal floor")
    if backend == "embedded":
        return embedded
    if backend == "rasa":
        if not rasa_url:
            raise ConfigError("nlu.rasa_url", "required when nlu.backend is 'rasa'")
        if timeout <= 0:
            raise ConfigError("nlu.timeout", "must be positive")
        from nlu.rasa import RasaTriager

        return RasaTriager(rasa_url, fallback=embedded, timeout=timeout)
    raise ConfigError("nlu.backend", f"unknown backend {backend!r} (expected 'embedded' or 'rasa')")


__all__ = [
    "DEFAULT_CONFIG",
    "PRECEDENCE_RANK",
    "EmbeddedTriager",
    "TriageConfig",
    "build_result",
    "build_triager",
    "decide",
    "default_model",
    "load_model",
]
