from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.envelope import Priority
from nlu.classifier import ModelArtifact, train_artifact
from nlu.data import Dataset
from nlu.registry import FileStore, MemoryStore, ModelRegistry, decide_activation
from nlu.triage import EmbeddedTriager

BASE = {"critical_recall": 1.0, "macro_f1": 0.95, "data_hash": "abc"}


def test_gate_accepts_equal_or_better() -> None:
    assert decide_activation(BASE, BASE)[0]
    assert decide_activation({**BASE, "macro_f1": 0.96}, BASE)[0]
    assert decide_activation({**BASE, "macro_f1": 0.93}, BASE)[0]  # drop of exactly 0.02
    ok, reason = decide_activation(BASE, None)
    assert ok and "no active model" in reason


def test_gate_refuses_lower_critical_recall() -> None:
    ok, reason = decide_activation({**BASE, "critical_recall": 0.99, "macro_f1": 0.99}, BASE)
    assert not ok and "critical recall" in reason


def test_gate_refuses_macro_f1_drop_over_002() -> None:
    ok, reason = decide_activation({**BASE, "macro_f1": 0.929}, BASE)
    assert not ok and "macro-F1" in reason


def test_gate_refuses_unevaluated_or_incomparable_candidates() -> None:
    ok, reason = decide_activation({}, BASE)
    assert not ok and "evaluate" in reason
    ok, reason = decide_activation({**BASE, "data_hash": "other"}, BASE)
    assert not ok and "different data" in reason


def _artifact(metrics: dict[str, Any], intent_for_hej: str = "greet") -> ModelArtifact:
    ds = Dataset.from_pairs(
        [
            ("hej", intent_for_hej),
            ("hallå", intent_for_hej),
            ("tack", "goodbye"),
            ("hej då", "goodbye"),
            ("pizza", "out_of_scope"),
        ]
    )
    return train_artifact(ds).with_metrics(metrics)


@pytest.mark.parametrize("kind", ["memory", "files"])
async def test_activate_refuse_and_rollback_on_a_running_triager(
    kind: str, tmp_path: Path, model: ModelArtifact
) -> None:
    store = MemoryStore() if kind == "memory" else FileStore(tmp_path / "models")
    triager = EmbeddedTriager(model)
    reg = ModelRegistry(store, triager)

    good = _artifact(BASE)
    reg.register(good)
    res = reg.activate(good.version)
    assert res.ok and reg.active_version == good.version
    assert triager.model.version == good.version

    worse = _artifact({**BASE, "critical_recall": 0.9})
    reg.register(worse)
    res = reg.activate(worse.version)
    assert not res.ok and "critical recall" in res.reason
    assert triager.model.version == good.version  # still the good one

    better = _artifact({**BASE, "macro_f1": 0.97}, intent_for_hej="out_of_scope")
    reg.register(better)
    assert reg.check(better.version)[0]
    assert reg.activate(better.version).ok
    assert (await triager.parse("hallå")).model_version == better.version

    res = reg.rollback()
    assert res.ok and res.version == good.version
    assert reg.active_version == good.version
    assert (await triager.parse("hallå")).model_version == good.version
    assert not reg.rollback().ok  # nothing older than the first activation

    # the rules keep protecting critical messages whichever model is active
    assert (await triager.parse("jag vill dö")).priority == Priority.CRITICAL

    listed = reg.versions()
    assert {v["version"] for v in listed} == {good.version, worse.version, better.version}
    assert [v["version"] for v in listed if v["active"]] == [good.version]


def test_registry_state_survives_a_restart(tmp_path: Path, model: ModelArtifact) -> None:
    a = _artifact(BASE)
    reg = ModelRegistry(FileStore(tmp_path))
    reg.register(a)
    reg.activate(a.version)
    # a new process: a fresh registry on the same directory puts the active model into its triager
    triager = EmbeddedTriager(model)
    again = ModelRegistry(FileStore(tmp_path))
    assert again.attach(triager) == a.version
    assert triager.model.version == a.version


def test_forced_activation_and_unknown_version() -> None:
    reg = ModelRegistry(MemoryStore())
    good, bad = _artifact(BASE), _artifact({**BASE, "macro_f1": 0.5})
    reg.register(good)
    reg.register(bad)
    reg.activate(good.version)
    assert not reg.activate(bad.version).ok
    assert reg.activate(bad.version, force=True).ok
    with pytest.raises(LookupError):
        reg.activate("nope")


def test_file_store_refuses_path_tricks(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "s")
    with pytest.raises(ValueError):
        store.put("../evil", b"x")
    store.put("a.bin", b"123")
    assert store.get("a.bin") == b"123" and store.get("b.bin") is None
    assert store.keys() == ["a.bin"]
