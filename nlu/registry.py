"""Versioned model artifacts, gated activation and roll back, without restarting the gateway.

Persistence is a small bytes-in/bytes-out interface (``ArtifactStore``) so that the models can
live in memory (tests), in a directory, or later in the database.  The registry keeps its state
(which version is active, which were active before) in the same store under ``STATE_KEY``.

A candidate is activated only if its recall on critical messages is not lower than the active
model's and its macro-F1 has not dropped by more than ``MAX_MACRO_F1_DROP``; otherwise the reason
is returned so an admin can see why it was refused.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from nlu.classifier import ModelArtifact

MAX_MACRO_F1_DROP = 0.02
STATE_KEY = "registry-state.json"
_MODEL_PREFIX = "model-"
_SAFE_KEY = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


def decide_activation(
    candidate_metrics: Mapping[str, Any], active_metrics: Mapping[str, Any] | None
) -> tuple[bool, str]:
    """May the candidate replace the active model?  Returns (ok, reason)."""
    for key in ("critical_recall", "macro_f1"):
        if not isinstance(candidate_metrics.get(key), int | float):
            return False, f"candidate has no {key}: evaluate it first"
    if not active_metrics:
        return True, "no active model to compare with"
    for key in ("critical_recall", "macro_f1"):
        if not isinstance(active_metrics.get(key), int | float):
            return True, f"active model has no {key}; candidate accepted"
    c_hash, a_hash = candidate_metrics.get("data_hash"), active_metrics.get("data_hash")
    if c_hash and a_hash and c_hash != a_hash:
        return (
            False,
            "candidate and active model were evaluated on different data: evaluate both on the same test set",
        )
    c_cr, a_cr = float(candidate_metrics["critical_recall"]), float(active_metrics["critical_recall"])
    c_f1, a_f1 = float(candidate_metrics["macro_f1"]), float(active_metrics["macro_f1"])
    if c_cr < a_cr:
        return False, f"critical recall would drop from {a_cr:.4f} to {c_cr:.4f}"
    if a_f1 - c_f1 > MAX_MACRO_F1_DROP + 1e-9:
        return False, (
            f"macro-F1 would drop by {a_f1 - c_f1:.4f} (from {a_f1:.4f} to {c_f1:.4f}), "
            f"more than the allowed {MAX_MACRO_F1_DROP}"
        )
    return True, (
        f"critical recall {a_cr:.4f} -> {c_cr:.4f}, macro-F1 {a_f1:.4f} -> {c_f1:.4f}: within the gate"
    )


class ArtifactStore(Protocol):
    """Bytes in, bytes out, by key."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes | None: ...

    def keys(self) -> list[str]: ...


class MemoryStore:
    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    def put(self, key: str, data: bytes) -> None:
        self._data[key] = bytes(data)

    def get(self, key: str) -> bytes | None:
        return self._data.get(key)

    def keys(self) -> list[str]:
        return sorted(self._data)


class FileStore:
    """One file per key in a directory; writes are atomic (temporary file + rename)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not _SAFE_KEY.match(key) or key in {".", ".."}:
            raise ValueError(f"invalid key {key!r}")
        return self.directory / key

    def put(self, key: str, data: bytes) -> None:
        target = self._path(key)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def keys(self) -> list[str]:
        return sorted(p.name for p in self.directory.iterdir() if p.is_file() and not p.name.startswith("."))


class Reloadable(Protocol):
    def reload(self, model: ModelArtifact) -> None: ...


@dataclass(frozen=True, slots=True)
class ActivationResult:
    ok: bool
    reason: str
    version: str | None
    previous: str | None


class RegistryError(LookupError):
    pass


class ModelRegistry:
    def __init__(self, store: ArtifactStore, triager: Reloadable | None = None) -> None:
        self.store = store
        self.triager = triager
        self._lock = threading.Lock()

    # -- state ---------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        raw = self.store.get(STATE_KEY)
        if raw is None:
            return {"active": None, "history": []}
        state: dict[str, Any] = json.loads(raw)
        return state

    def _save_state(self, state: dict[str, Any]) -> None:
        self.store.put(STATE_KEY, json.dumps(state).encode())

    @property
    def active_version(self) -> str | None:
        v = self._state().get("active")
        return str(v) if v else None

    @property
    def history(self) -> list[str]:
        return [str(v) for v in self._state().get("history", [])]

    # -- artifacts -----------------------------------------------------------------------------
    def register(self, artifact: ModelArtifact) -> str:
        key = _MODEL_PREFIX + artifact.version
        if not _SAFE_KEY.match(key):
            raise ValueError(f"invalid model version {artifact.version!r}")
        self.store.put(key, artifact.to_bytes())
        return artifact.version

    def get(self, version: str) -> ModelArtifact:
        raw = self.store.get(_MODEL_PREFIX + version)
        if raw is None:
            raise RegistryError(f"no model version {version!r}")
        return ModelArtifact.from_bytes(raw)

    def versions(self) -> list[dict[str, Any]]:
        active = self.active_version
        out = []
        for key in self.store.keys():
            if key.startswith(_MODEL_PREFIX):
                info = self.get(key[len(_MODEL_PREFIX) :]).info
                info["active"] = info["version"] == active
                out.append(info)
        return sorted(out, key=lambda i: str(i["created"]))

    def active(self) -> ModelArtifact | None:
        v = self.active_version
        return self.get(v) if v else None

    # -- activation ----------------------------------------------------------------------------
    def check(self, version: str) -> tuple[bool, str]:
        """Would ``version`` pass the gate against the active model?"""
        candidate = self.get(version)
        current = self.active()
        return decide_activation(candidate.metrics, current.metrics if current else None)

    def activate(self, version: str, *, force: bool = False) -> ActivationResult:
        """Activate ``version`` if it passes the gate (or ``force``: for an admin override)."""
        with self._lock:
            state = self._state()
            previous = state.get("active")
            if version == previous:
                return ActivationResult(True, "already active", version, previous)
            candidate = self.get(version)
            if not force:
                current = self.get(previous) if previous else None
                ok, reason = decide_activation(candidate.metrics, current.metrics if current else None)
                if not ok:
                    return ActivationResult(False, reason, version, previous)
            else:
                reason = "forced"
            if previous:
                state["history"].append(previous)
            state["active"] = version
            self._save_state(state)
            if self.triager is not None:
                self.triager.reload(candidate)
            return ActivationResult(True, reason, version, previous)

    def rollback(self) -> ActivationResult:
        """Go back to the model that was active before the current one."""
        with self._lock:
            state = self._state()
            current = state.get("active")
            if not state["history"]:
                return ActivationResult(False, "nothing to roll back to", current, current)
            target = state["history"].pop()
            artifact = self.get(target)
            state["active"] = target
            self._save_state(state)
            if self.triager is not None:
                self.triager.reload(artifact)
            return ActivationResult(True, f"rolled back from {current} to {target}", target, current)

    def attach(self, triager: Reloadable) -> str | None:
        """Use ``triager`` from now on and load the active model into it (if there is one)."""
        self.triager = triager
        artifact = self.active()
        if artifact is not None:
            triager.reload(artifact)
            return artifact.version
        return None
