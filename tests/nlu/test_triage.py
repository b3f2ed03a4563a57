from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.envelope import Priority
from gateway.errors import ConfigError
from nlu.classifier import train_artifact
from nlu.data import Dataset
from nlu.result import INTENTS, TriageResult
from nlu.triage import EmbeddedTriager, build_triager


async def test_parse_output_has_the_schema_shape(triager: EmbeddedTriager) -> None:
    r = await triager.parse("min son har börjat umgås med nazister")
    d = r.to_dict()
    assert set(d) == {
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
    assert d["intent"]["name"] == "concern_relative"
    assert 0 < d["intent"]["confidence"] <= 1
    assert d["priority"] == "normal"
    assert d["language"] == "sv"
    assert d["intent_ranking"][0]["name"] == "concern_relative"
    assert len(d["intent_ranking"]) == len(INTENTS)
    json.dumps(d)
    assert TriageResult.from_dict(d).intent == "concern_relative"


@pytest.mark.parametrize(
    ("text", "intent", "priority"),
    [
        ("hej", "greet", Priority.LOW),
        ("tack för hjälpen, hej då", "goodbye", Priority.LOW),
        ("är det anonymt?", "info_request", Priority.LOW),
        ("kan jag få prata med en människa", "human_request", Priority.NORMAL),
        ("jag vill ut ur rörelsen men är rädd", "leave_movement", Priority.HIGH),
        ("my son has travelled to Syria to join ISIS", "travel_conflict", Priority.HIGH),
        ("jag vill inte leva langre", "self_harm", Priority.CRITICAL),
        ("ja ska skjuta hela skolan imorn", "urgent_threat", Priority.CRITICAL),
    ],
)
async def test_typical_messages(triager: EmbeddedTriager, text: str, intent: str, priority: Priority) -> None:
    r = await triager.parse(text)
    assert (r.intent, r.priority) == (intent, priority)


async def test_empty_and_huge_messages(triager: EmbeddedTriager) -> None:
    r = await triager.parse("   ")
    assert r.intent == "out_of_scope" and r.priority == Priority.LOW
    long_mail = "Hej, jag skriver om min son. " * 400 + " Han säger att han ska spränga stationen på fredag."
    r = await triager.parse(long_mail)
    assert r.priority == Priority.CRITICAL  # the rules read the whole text


async def test_language_hint_is_used_for_unclear_text(triager: EmbeddedTriager) -> None:
    r = await triager.parse("ok", language_hint="en")
    assert r.language == "en"
    assert r.safe_response.startswith("Thank") or r.safe_response.isascii()


async def test_reload_switches_the_model_without_restart(triager: EmbeddedTriager) -> None:
    before = await triager.parse("hej")
    tiny = train_artifact(
        Dataset.from_pairs(
            [("hej", "out_of_scope"), ("pizza", "out_of_scope"), ("tack", "goodbye"), ("bye", "goodbye")]
        )
    )
    triager.reload(tiny)
    after = await triager.parse("hej")
    assert before.intent == "greet"
    assert after.model_version == tiny.version != before.model_version
    assert triager.health()["model_version"] == tiny.version
    # the rules still protect a critical message even with a poor model
    assert (await triager.parse("jag ska ta livet av mig")).priority == Priority.CRITICAL


def test_health_of_embedded(triager: EmbeddedTriager) -> None:
    h = triager.health()
    assert h["backend"] == "embedded" and h["state"] == "ok"
    assert h["model_version"]


async def test_build_triager_from_a_saved_model(tmp_path: Path) -> None:
    path = tmp_path / "m.zip"
    art = train_artifact(Dataset.from_pairs([("hej", "greet"), ("hallå", "greet"), ("tack", "goodbye")]))
    art.save(str(path))
    t = build_triager(model_path=str(path))
    assert t.health()["model_version"] == art.version
    r = await t.parse("hallå")
    assert r.model_version == art.version
    assert r.intent_ranking[0][0] == art.classifier.predict("hallå")[0][0]


def test_build_triager_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nlu\.backend"):
        build_triager(backend="spacy")
    with pytest.raises(ConfigError, match=r"nlu\.rasa_url"):
        build_triager(backend="rasa")
    with pytest.raises(ConfigError, match=r"nlu\.model_path"):
        build_triager(model_path=str(tmp_path / "missing.zip"))
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"garbage")
    with pytest.raises(ConfigError, match=r"nlu\.model_path"):
        build_triager(model_path=str(bad))
