from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nlu.classifier import ModelArtifact
from nlu.cli import register
from nlu.data import TEST_PATH, Dataset, load_training_data
from nlu.result import INTENTS

ROOT = Path(__file__).resolve().parents[2]


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="helpline")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_parse_reads_json_lines_and_survives_bad_lines() -> None:
    lines = [
        json.dumps({"text": "jag vill inte leva langre"}),
        "this is not json",
        json.dumps({"txt": "wrong key"}),
        "",
        json.dumps({"text": "hello, can I talk to a human?"}),
        json.dumps({"text": "ok", "language_hint": "en"}),
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "nlu.cli", "nlu", "parse"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 5
    first = out[0]
    assert first["intent"]["name"] == "self_harm"
    assert first["priority"] == "critical"
    assert first["language"] == "sv"
    assert "90101" in first["safe_response"] and "112" in first["safe_response"]
    assert "sv.self_harm.vill_inte_leva" in first["matched_rules"]
    assert set(first) == {
        "text",
        "intent",
        "intent_ranking",
        "entities",
        "language",
        "priority",
        "matched_rules",
        "safe_response",
        "risk",
    }
    assert "error" in out[1] and "line 2" in out[1]["error"]
    assert "error" in out[2] and "text" in out[2]["error"]
    assert out[3]["intent"]["name"] == "human_request" and out[3]["language"] == "en"
    assert out[4]["language"] == "en"


def test_evaluate_prints_recall_false_alarms_per_language_and_family(
    capsys: pytest.CaptureFixture[str], model: ModelArtifact
) -> None:
    assert run(["nlu", "evaluate", "--intents"]) == 0
    text = capsys.readouterr().out
    for part in (
        "held-out split",
        "blind split",
        "multilingual split",
        "critical recall",
        "false alarms",
        "danger below high",
        "macro-F1",
        "confusion matrix",
    ):
        assert part in text, part
    for family in (
        "means_farewell",
        "third_party",
        "attack_preparation",
        "threat_received",
        "other_language",
    ):
        assert family in text
    for lang in ("ar", "fa", "so", "ti", "tr", "ku", "bs", "ru"):
        assert f"\n{lang} " in text, lang
    for intent in INTENTS:
        assert intent in text

    assert run(["nlu", "evaluate", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    held = data["held-out split (test.yml)"]
    assert held["critical_recall"] >= 0.98 and held["macro_f1"] >= 0.90
    assert held["false_alarm_rate"] <= 0.05
    multi = data["multilingual split (eval_multilingual.yml)"]
    assert set(multi["by_language"]) == {"ar", "fa", "so", "ti", "tr", "ku", "bs", "ru"}
    assert all(g["danger_below_high"] == 0 for g in multi["by_language"].values())


def test_evaluate_another_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "small.yml"
    Dataset.from_pairs([("hej", "greet"), ("jag vill dö", "self_harm")]).save(f)
    assert run(["nlu", "evaluate", str(f), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)[str(f)]
    assert data["n"] == 2 and data["critical_support"] == 1 and data["critical_recall"] == 1.0
    assert run(["nlu", "evaluate", str(tmp_path / "missing.yml")]) == 2


def test_evaluate_leave_one_family_out(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["nlu", "evaluate", "--lofo", "--no-embedding", str(TEST_PATH)]) == 0
    text = capsys.readouterr().out
    assert "leave-one-family-out" in text
    assert "means_farewell" in text and "threat_received" in text


def test_train_saves_a_model_with_metrics_that_parse_can_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "model.zip"
    assert run(["nlu", "train", "--out", str(out)]) == 0
    assert "critical recall" in capsys.readouterr().out
    art = ModelArtifact.load(str(out))
    assert art.metrics["critical_recall"] >= 0.98
    assert art.data_hash == load_training_data().content_hash()
    assert run(["nlu", "evaluate", "--model", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model_version"] == art.version


def test_export_writes_rasa_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "export.yml"
    assert run(["nlu", "export", "--out", str(out)]) == 0
    assert Dataset.load(out).examples == load_training_data().examples
    assert run(["nlu", "export"]) == 0
    doc = yaml.safe_load(io.StringIO(capsys.readouterr().out))
    assert doc["version"] == "3.1" and len(doc["nlu"]) == len(INTENTS)
