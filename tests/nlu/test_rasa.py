"""The Rasa backend against a local server that answers like Rasa 3's ``POST /model/parse``."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from gateway.envelope import Priority
from nlu.classifier import ModelArtifact
from nlu.rasa import RasaTriager
from nlu.triage import EmbeddedTriager, build_triager

RASA_INTENTS = {
    "hej": ("greet", 0.97),
    "min son har börjat umgås med nazister": ("concern_relative", 0.88),
    # Rasa is wrong here; the rules must still make it critical.
    "jag vill inte leva längre": ("goodbye", 0.51),
    "what is the weather": ("nlu_fallback", 0.7),
}


def rasa_answer(text: str) -> dict[str, Any]:
    name, conf = RASA_INTENTS.get(text, ("out_of_scope", 0.6))
    others = [n for n in ("greet", "goodbye", "info_request", "concern_relative") if n != name]
    rest = (1.0 - conf) / len(others)
    ranking = [{"name": name, "confidence": conf}] + [{"name": n, "confidence": rest} for n in others]
    entities = []
    if "son" in text:
        start = text.index("son")
        entities.append(
            {
                "entity": "relation",
                "start": start,
                "end": start + 3,
                "confidence_entity": 0.93,
                "value": "son",
                "extractor": "DIETClassifier",
            }
        )
    return {
        "text": text,
        "intent": {"name": name, "confidence": conf},
        "entities": entities,
        "text_tokens": [[0, len(text)]],
        "intent_ranking": ranking,
        "response_selector": {"all_retrieval_intents": [], "default": {"response": {}, "ranking": []}},
    }


@dataclass
class FakeRasa:
    url: str
    runner: web.AppRunner
    mode: str = "ok"  # "ok", "error", "slow"
    requests: list[dict[str, Any]] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    port = _free_port()
    app = web.Application()
    runner = web.AppRunner(app)
    fake = FakeRasa(url=f"http://127.0.0.1:{port}", runner=runner)

    async def parse(request: web.Request) -> web.Response:
        body = await request.json()
        fake.requests.append(body)
        if fake.mode == "error":
            return web.json_response(
                {"version": "3.6.0", "status": "failure", "message": "boom", "code": 500}, status=500
            )
        if fake.mode == "slow":
            await asyncio.sleep(1)
        return web.json_response(rasa_answer(body["text"]))

    app.router.add_post("/model/parse", parse)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield fake
    await runner.cleanup()


@pytest.fixture
async def rasa_triager(rasa: FakeRasa, model: ModelArtifact) -> AsyncIterator[RasaTriager]:
    t = RasaTriager(rasa.url, fallback=EmbeddedTriager(model), timeout=0.5, retry_after=0.2)
    yield t
    await t.close()


async def test_maps_rasa_answer_to_the_schema(rasa: FakeRasa, rasa_triager: RasaTriager) -> None:
    r = await rasa_triager.parse("min son har börjat umgås med nazister")
    assert rasa.requests == [{"text": "min son har börjat umgås med nazister"}]
    assert r.backend == "rasa"
    assert (r.intent, r.priority, r.language) == ("concern_relative", Priority.NORMAL, "sv")
    assert r.confidence == pytest.approx(0.88)
    assert r.intent_ranking[0][0] == "concern_relative"
    assert r.intent_ranking[0][1] == pytest.approx(0.88)
    assert r.entities[0]["entity"] == "relation" and r.entities[0]["value"] == "son"
    assert r.to_dict()["entities"][0]["start"] == 4
    assert rasa_triager.health()["state"] == "ok"


async def test_rules_apply_on_top_of_rasa(rasa_triager: RasaTriager) -> None:
    r = await rasa_triager.parse("jag vill inte leva längre")
    assert r.backend == "rasa"
    assert (r.intent, r.priority) == ("self_harm", Priority.CRITICAL)
    assert "sv.self_harm.vill_inte_leva" in r.matched_rules
    assert "90101" in r.safe_response


async def test_intents_outside_the_schema_fall_back_to_ranking(rasa_triager: RasaTriager) -> None:
    r = await rasa_triager.parse("what is the weather")
    # nlu_fallback is not a triage intent: the best schema intent of Rasa's ranking is used
    assert r.backend == "rasa"
    assert r.intent in {"greet", "goodbye", "info_request", "concern_relative"}


async def test_server_error_falls_back_to_embedded(rasa: FakeRasa, rasa_triager: RasaTriager) -> None:
    rasa.mode = "error"
    r = await rasa_triager.parse("hej")
    assert r.backend == "embedded" and r.intent == "greet"
    h = rasa_triager.health()
    assert (h["backend"], h["state"], h["fallback"]) == ("rasa", "degraded", "embedded")
    assert "500" in h["last_error"]


async def test_timeout_falls_back_and_skips_the_server_for_a_while(
    rasa: FakeRasa, rasa_triager: RasaTriager
) -> None:
    rasa.mode = "slow"
    r = await rasa_triager.parse("jag ska spränga skolan på fredag")
    assert r.backend == "embedded"
    assert r.priority == Priority.CRITICAL
    assert "timeout" in rasa_triager.health()["last_error"]
    # while degraded, messages do not wait for the dead server again
    n = len(rasa.requests)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await rasa_triager.parse("hej")
    assert loop.time() - started < 0.1
    assert len(rasa.requests) == n
    # and once the server is back, Rasa is used again
    rasa.mode = "ok"
    await asyncio.sleep(0.25)
    r = await rasa_triager.parse("hej")
    assert r.backend == "rasa"
    assert rasa_triager.health()["state"] == "ok"


async def test_server_down_falls_back_to_embedded(model: ModelArtifact) -> None:
    t = RasaTriager(f"http://127.0.0.1:{_free_port()}", fallback=EmbeddedTriager(model), timeout=0.5)
    try:
        r = await t.parse("I want to kill myself")
        assert r.backend == "embedded"
        assert (r.intent, r.priority) == ("self_harm", Priority.CRITICAL)
        h = t.health()
        assert h["state"] == "degraded" and h["fallback"] == "embedded"
        assert h["embedded"]["state"] == "ok"
    finally:
        await t.close()


async def test_build_triager_with_rasa(rasa: FakeRasa) -> None:
    t = build_triager(backend="rasa", rasa_url=rasa.url + "/", timeout=1.0)
    assert isinstance(t, RasaTriager)
    try:
        assert (await t.parse("hej")).backend == "rasa"
        assert t.health()["url"] == rasa.url
    finally:
        await t.close()


async def test_a_language_the_rasa_model_cannot_read_goes_to_the_embedded_stage(
    rasa: FakeRasa, rasa_triager: RasaTriager
) -> None:
    r = await rasa_triager.parse("Bu gece kendimi öldüreceğim")
    assert rasa.requests == []
    assert r.backend == "embedded" and r.extra["fallback"] == "language"
    assert r.language == "tr" and r.priority == Priority.CRITICAL
