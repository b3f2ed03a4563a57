"""Why a conversation is where it is, through the console's JSON API: its language by name, the risk
reason of the latest message that has one (or the rules that matched), and the queue's risk marker.

The NLU's risk stage is simulated by writing what it stores: ``"risk"`` in a message's triage record
and ``meta["risk"]`` on a conversation whose priority it raised.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bots.memory import MemoryAdapter
from gateway.appkeys import ADAPTERS
from gateway.store.models import Conversation, Message
from handoff.console.i18n import client_strings
from nlu.result import SUPPORTED_LANGUAGES, UNKNOWN_LANGUAGE, TriageResult
from tests.handoff.console.conftest import Console
from tests.handoff.console.test_live import next_of
from tests.handoff.triage_admin.conftest import create_tables, start_gateway

PILLS = {
    "type": "self",
    "score": 0.93,
    "signals": ["means:pills", "state:taken"],
    "reason": "means: pills + taken",
}


async def risk_stage(console: Console, conv_id: str, text: str, risk: dict[str, Any] | None) -> int:
    """What the pipeline keeps when the risk stage found ``risk`` in the person's message ``text``
    and raised the conversation's priority with it; returns that message's seq.

    Found by its text, not by a seq: the automatic reply is numbered when the outbox delivers it,
    so whether it comes before or after the person's next message varies from run to run."""
    async with console.db.session() as session:
        msg = (
            await session.execute(
                select(Message).where(
                    Message.conversation_id == conv_id,
                    Message.sender_kind == "person",
                    Message.text == text,
                )
            )
        ).scalar_one()
        msg.triage = {**(msg.triage or {}), "risk": risk}
        conv = await session.get(Conversation, conv_id)
        assert conv is not None
        if risk is not None:
            conv.meta = {**(conv.meta or {}), "risk": {"type": risk["type"], "reason": risk["reason"]}}
        return msg.seq


async def test_the_conversation_view_names_the_language_and_the_risk_reason(console: Console) -> None:
    anna = await console.signed_in("anna")
    conv = str(
        (
            await console.memory.person_writes("p", "min bror mår dåligt", meta={"language_hint": "ar"})
        ).conversation_id
    )
    await console.memory.person_writes("p", "han har tagit tabletter", meta={"language_hint": "ar"})
    pills_seq = await risk_stage(console, conv, "han har tagit tabletter", PILLS)
    await console.memory.person_writes("p", "vad ska jag göra", meta={"language_hint": "ar"})
    assert (await anna.claim(conv)).status == 200

    body = await (await anna.get(f"/console/api/conversations/{conv}")).json()
    why = body["why"]
    assert (why["language"], why["language_name"]) == ("ar", "arabiska")
    # The risk of the latest message that has one, even though a later message has none.
    assert why["risk"]["reason"] == "means: pills + taken" and why["risk"]["type"] == "self"
    assert why["risk"]["seq"] == pills_seq and why["risk"]["signals"] == ["means:pills", "state:taken"]
    person = [m for m in body["messages"] if m["kind"] == "person"]
    assert person[1]["triage"]["risk"]["reason"] == "means: pills + taken"
    assert person[2]["triage"]["risk"] is None

    english = await (await anna.get(f"/console/api/conversations/{conv}?lang=en")).json()
    assert english["why"]["language_name"] == "Arabic"
    page = await (await anna.get(f"/console/conversations/{conv}?lang=sv")).text()
    assert "arabiska (ar)" in page and "means: pills + taken" in page


async def test_without_a_risk_the_rules_that_set_the_priority_are_shown(console: Console) -> None:
    parse = console.triager.parse

    async def with_rules(text: str, language_hint: str | None = None) -> TriageResult:
        result = await parse(text, language_hint)
        rules = ("critical_phrase:inte leva",) if result.intent == "self_harm" else ()
        return dataclasses.replace(result, matched_rules=rules, language="und")

    console.triager.parse = with_rules  # type: ignore[method-assign]
    anna = await console.signed_in("anna")
    conv = await console.person("q", "jag vill inte leva längre")
    await console.person("q", "hej")
    assert (await anna.claim(conv)).status == 200
    why = (await (await anna.get(f"/console/api/conversations/{conv}")).json())["why"]
    assert why["risk"] is None
    assert why["matched_rules"] == ["critical_phrase:inte leva"] and why["rules_priority"] == "critical"
    assert (why["language"], why["language_name"]) == ("und", "okänt språk")


async def test_the_queue_shows_each_language_code_and_a_risk_marker_with_its_reason(console: Console) -> None:
    anna = await console.signed_in("anna")
    plain = str(
        (
            await console.memory.person_writes("a", "min son är konstig", meta={"language_hint": "so"})
        ).conversation_id
    )
    risky = str(
        (
            await console.memory.person_writes("b", "min vän har tabletter", meta={"language_hint": "fa"})
        ).conversation_id
    )
    await risk_stage(console, risky, "min vän har tabletter", PILLS)
    waiting = {
        e["conversation_id"]: e for e in (await (await anna.get("/console/api/queue")).json())["waiting"]
    }
    assert waiting[plain]["language"] == "so" and waiting[plain]["risk"] is None
    assert waiting[risky]["language"] == "fa"
    assert waiting[risky]["risk"] == {"type": "self", "reason": "means: pills + taken"}


async def test_unexpected_risk_shapes_are_tolerated(console: Console) -> None:
    anna = await console.signed_in("anna")
    conv = await console.person("c", "min syster oroar mig")
    await risk_stage(console, conv, "min syster oroar mig", None)
    async with console.db.session() as session:
        row = await session.get(Conversation, conv)
        assert row is not None
        row.meta = {**row.meta, "risk": "high"}
    queue = (await (await anna.get("/console/api/queue")).json())["waiting"]
    assert queue[0]["risk"] is None
    assert (await anna.claim(conv)).status == 200
    why = (await (await anna.get(f"/console/api/conversations/{conv}")).json())["why"]
    assert why["risk"] is None and why["language_name"] == "svenska"


async def test_with_the_real_triage_the_risk_stage_explains_the_queue_and_the_conversation(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The embedded triage with its risk stage, end to end: what the pipeline stores is what the
    console shows, and a held conversation that the risk stage makes critical alerts its holder."""
    await create_tables(sqlite_url)
    gw = await start_gateway(sqlite_url, tmp_path)
    try:
        memory = gw.server.app[ADAPTERS]["memory"]
        assert isinstance(memory, MemoryAdapter)
        anna = await gw.signed_in("anna", "counsellor")
        conv = str((await memory.person_writes("p", "min bror har blivit konstig")).conversation_id)
        assert (await anna.claim(conv)).status == 200
        ws = await anna.http.ws_connect(anna.url("/console/ws"), headers={"Origin": anna.base})
        await next_of(ws, "queue")
        await memory.person_writes("p", "min bror har tagit en massa tabletter")
        alert = await next_of(ws, "alert")
        assert alert["conversation_id"] == conv and alert["yours"] is True
        await ws.close()
        why = (await (await anna.get(f"/console/api/conversations/{conv}")).json())["why"]
        assert why["risk"]["type"] == "self" and "pills" in why["risk"]["reason"]
        assert why["language_name"] == "svenska"

        waiting = str((await memory.person_writes("q", "jag har tagit alla tabletter nu")).conversation_id)
        queue = (await (await anna.get("/console/api/queue")).json())["waiting"]
        entry = next(e for e in queue if e["conversation_id"] == waiting)
        assert entry["risk"]["type"] == "self" and "pills" in entry["risk"]["reason"]
        assert entry["language"] == "sv"
    finally:
        await gw.close()


def test_every_language_triage_names_has_a_readable_name_in_swedish_and_english() -> None:
    for lang in ("sv", "en"):
        names = client_strings(lang)["languages"]
        assert isinstance(names, dict)
        for code in (*SUPPORTED_LANGUAGES, UNKNOWN_LANGUAGE):
            assert code in names and names[code] != code, (lang, code)
    assert client_strings("sv")["languages"]["bs"] == "bosniska/kroatiska/serbiska"  # type: ignore[index]
