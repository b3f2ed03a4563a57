"""The embedded intent classifier: TF-IDF over word and character n-grams of accent-folded text,
multinomial logistic regression, trained with scikit-learn in a second or two.

Training uses scikit-learn; parsing does not: the fitted model is reduced to its vocabularies, IDF
weights and coefficient matrix, and a message is scored with a few dictionary look-ups and one
small matrix product (well under a millisecond).  The same reduced form is what gets saved, as
plain numpy arrays plus JSON, never a pickle, so loading a model file cannot execute code.
"""

from __future__ import annotations

import io
import json
import math
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from nlu.data import Dataset
from nlu.lexicon import concepts_of
from nlu.text import fold, tokens

FORMAT = "helpline-nlu-model/1"
DEFAULT_PARAMS: dict[str, Any] = {
    "C": 20.0,
    "char_min": 2,
    "char_max": 5,
    "word_ngrams": 2,
    "char_weight": 1.0,
    "concepts": True,
}


class ModelFormatError(ValueError):
    """The bytes are not a model artifact this code can read."""


def word_features(folded: str, n: int = 2, concepts: bool = True) -> list[str]:
    """Word n-grams of folded text, plus one ``@concept`` feature per token in a concept class."""
    toks = tokens(folded)
    feats = list(toks)
    if concepts:
        for tok in toks:
            feats.extend(concepts_of(tok))
    for size in range(2, n + 1):
        feats.extend(" ".join(toks[i : i + size]) for i in range(len(toks) - size + 1))
    return feats


def char_features(folded: str, lo: int = 2, hi: int = 5) -> list[str]:
    """Character n-grams inside word boundaries (like scikit-learn's ``char_wb``)."""
    feats: list[str] = []
    for tok in tokens(folded):
        padded = f" {tok} "
        length = len(padded)
        for size in range(lo, hi + 1):
            if size > length:
                break
            feats.extend(padded[i : i + size] for i in range(length - size + 1))
    return feats


def _sparse_tfidf(
    feats: Sequence[str], vocab: Mapping[str, int], idf: np.ndarray
) -> tuple[list[int], np.ndarray]:
    counts = Counter(vocab[f] for f in feats if f in vocab)
    if not counts:
        return [], np.zeros(0)
    idx = list(counts)
    vals = np.fromiter((1.0 + math.log(counts[i]) for i in idx), dtype=np.float64, count=len(idx))
    vals *= idf[idx]
    norm = float(np.sqrt(vals @ vals))
    if norm > 0:
        vals /= norm
    return idx, vals


@dataclass
class IntentClassifier:
    """A fitted model in its reduced form (see the module docstring)."""

    classes: tuple[str, ...]
    word_vocab: dict[str, int]
    word_idf: np.ndarray
    char_vocab: dict[str, int]
    char_idf: np.ndarray
    coef: np.ndarray  # (n_classes, n_word + n_char)
    intercept: np.ndarray  # (n_classes,)
    params: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PARAMS))

    @classmethod
    def train(cls, dataset: Dataset, params: Mapping[str, Any] | None = None) -> IntentClassifier:
        from scipy.sparse import hstack
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        p = {**DEFAULT_PARAMS, **(params or {})}
        texts, labels = zip(*dataset.pairs(), strict=True) if len(dataset) else ((), ())
        if len(set(labels)) < 2:
            raise ValueError("training needs examples of at least two intents")
        folded = [fold(t) for t in texts]
        wn, lo, hi = int(p["word_ngrams"]), int(p["char_min"]), int(p["char_max"])
        use_concepts = bool(p["concepts"])
        wvec = TfidfVectorizer(analyzer=lambda s: word_features(s, wn, use_concepts), sublinear_tf=True)
        cvec = TfidfVectorizer(
            analyzer=lambda s: char_features(s, lo, hi),
            sublinear_tf=True,
            min_df=2 if len(folded) >= 50 else 1,
        )
        xw = wvec.fit_transform(folded)
        xc = cvec.fit_transform(folded) * float(p["char_weight"])
        x = hstack([xw, xc]).tocsr()
        # A fixed random_state: saga visits samples in a random order, and an unseeded order made
        # two processes (or one before and after a restart) rank the same message differently.
        lr = LogisticRegression(
            C=float(p["C"]), max_iter=3000, class_weight="balanced", solver="saga", tol=1e-3, random_state=0
        )
        lr.fit(x, list(labels))
        return cls(
            classes=tuple(str(c) for c in lr.classes_),
            word_vocab={str(k): int(v) for k, v in wvec.vocabulary_.items()},
            word_idf=np.asarray(wvec.idf_, dtype=np.float64),
            char_vocab={str(k): int(v) for k, v in cvec.vocabulary_.items()},
            char_idf=np.asarray(cvec.idf_, dtype=np.float64) * float(p["char_weight"]),
            coef=np.asarray(lr.coef_, dtype=np.float64),
            intercept=np.asarray(lr.intercept_, dtype=np.float64),
            params=p,
        )

    def __post_init__(self) -> None:
        # Row-major (feature, class) copy of the coefficients: a message's features are a few
        # hundred rows gathered in one go.
        self._coef_t = np.ascontiguousarray(self.coef.T)
        self._offset = len(self.word_idf)

    def predict(self, text: str) -> list[tuple[str, float]]:
        """Intent ranking (name, probability), best first; probabilities sum to 1."""
        return self.predict_folded(fold(text))

    def predict_folded(self, folded: str) -> list[tuple[str, float]]:
        p = self.params
        wi, wv = _sparse_tfidf(
            word_features(folded, int(p["word_ngrams"]), bool(p["concepts"])), self.word_vocab, self.word_idf
        )
        ci, cv = _sparse_tfidf(
            char_features(folded, int(p["char_min"]), int(p["char_max"])), self.char_vocab, self.char_idf
        )
        scores = self.intercept.copy()
        if wi:
            scores += wv @ self._coef_t[wi]
        if ci:
            # char_idf carries char_weight, but the l2 norm removed it: put it back.
            off = self._offset
            scores += (cv * float(p["char_weight"])) @ self._coef_t[[off + i for i in ci]]
        scores -= scores.max()
        probs = np.exp(scores)
        probs /= probs.sum()
        order = np.argsort(-probs, kind="stable")
        return [(self.classes[i], float(probs[i])) for i in order]

    # -- arrays <-> bytes ----------------------------------------------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "word_idf": self.word_idf,
            "char_idf": self.char_idf,
            "coef": self.coef,
            "intercept": self.intercept,
        }

    def _meta(self) -> dict[str, Any]:
        wv = [""] * len(self.word_vocab)
        for k, v in self.word_vocab.items():
            wv[v] = k
        cv = [""] * len(self.char_vocab)
        for k, v in self.char_vocab.items():
            cv[v] = k
        return {"classes": list(self.classes), "word_vocab": wv, "char_vocab": cv, "params": self.params}

    @classmethod
    def _from_parts(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> IntentClassifier:
        return cls(
            classes=tuple(meta["classes"]),
            word_vocab={k: i for i, k in enumerate(meta["word_vocab"])},
            word_idf=arrays["word_idf"],
            char_vocab={k: i for i, k in enumerate(meta["char_vocab"])},
            char_idf=arrays["char_idf"],
            coef=arrays["coef"],
            intercept=arrays["intercept"],
            params={**DEFAULT_PARAMS, **meta.get("params", {})},
        )


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ModelArtifact:
    """A versioned model with its metadata: what it was trained on, when, and how well it did."""

    classifier: IntentClassifier
    version: str
    created: str
    data_hash: str
    n_examples: int
    train_seconds: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def info(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "created": self.created,
            "data_hash": self.data_hash,
            "n_examples": self.n_examples,
            "train_seconds": round(self.train_seconds, 3),
            "metrics": self.metrics,
            "note": self.note,
            "params": self.classifier.params,
        }

    def with_metrics(self, metrics: Mapping[str, Any]) -> ModelArtifact:
        return replace(self, metrics=dict(metrics))

    def to_bytes(self) -> bytes:
        """A zip holding ``meta.json`` and one ``.npy`` per array (no pickles)."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            meta = {"format": FORMAT, "artifact": self.info, "model": self.classifier._meta()}
            zf.writestr("meta.json", json.dumps(meta, ensure_ascii=False))
            for name, arr in self.classifier._arrays().items():
                arr_buf = io.BytesIO()
                np.save(arr_buf, np.ascontiguousarray(arr), allow_pickle=False)
                zf.writestr(f"{name}.npy", arr_buf.getvalue())
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ModelArtifact:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                meta = json.loads(zf.read("meta.json"))
                if meta.get("format") != FORMAT:
                    raise ModelFormatError(f"unknown model format {meta.get('format')!r}")
                arrays = {
                    name: np.load(io.BytesIO(zf.read(f"{name}.npy")), allow_pickle=False)
                    for name in ("word_idf", "char_idf", "coef", "intercept")
                }
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, ValueError) as exc:
            if isinstance(exc, ModelFormatError):
                raise
            raise ModelFormatError(f"not a model artifact: {exc}") from None
        info = meta["artifact"]
        return cls(
            classifier=IntentClassifier._from_parts(meta["model"], arrays),
            version=str(info["version"]),
            created=str(info["created"]),
            data_hash=str(info["data_hash"]),
            n_examples=int(info["n_examples"]),
            train_seconds=float(info.get("train_seconds", 0.0)),
            metrics=dict(info.get("metrics", {})),
            note=str(info.get("note", "")),
        )

    def save(self, path: str) -> None:
        with open(path, "wb") as fh:
            fh.write(self.to_bytes())

    @classmethod
    def load(cls, path: str) -> ModelArtifact:
        with open(path, "rb") as fh:
            return cls.from_bytes(fh.read())


def train_artifact(
    dataset: Dataset, params: Mapping[str, Any] | None = None, note: str = ""
) -> ModelArtifact:
    """Train a classifier on ``dataset`` and wrap it with a fresh version id."""
    started = time.perf_counter()
    clf = IntentClassifier.train(dataset, params)
    elapsed = time.perf_counter() - started
    created = _utcnow()
    data_hash = dataset.content_hash()
    version = f"{created:%Y%m%dT%H%M%SZ}-{data_hash[:8]}-{uuid.uuid4().hex[:6]}"
    return ModelArtifact(
        classifier=clf,
        version=version,
        created=created.isoformat(),
        data_hash=data_hash,
        n_examples=len(dataset),
        train_seconds=elapsed,
        note=note,
    )
