"""The queue, claims, replies, transfers, transcripts and supervision through the console's API."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from gateway.store.models import AuditEvent, Conversation
from tests.handoff.console.conftest import Console

EVERY_PRIORITY = [
    ("low1", "är det anonymt?", "low"),
    ("normal1", "min dotter har nya vänner", "normal"),
    ("high1", "han vill resa till syrien", "high"),
    ("normal2", "jag är lärare och orolig", "normal"),
    ("critical1", "de ska spränga skolan", "critical"),
    ("low2", "är jag anonym här?", "low"),
    ("critical2", "jag vill inte leva längre", "critical"),
    ("high2", "jag vill lämna rörelsen", "high"),
]


async def audit(console: Console, action: str) -> list[AuditEvent]:
    async with console.db.session() as session:
        rows = await session.execute(select(AuditEvent).where(AuditEvent.action == action))
        return list(rows.scalars())


async def test_queue_is_ordered_by_priority_then_waiting_time(console_any_db: Console) -> None:
    console = console_any_db
    b = await console.signed_in("anna")
    ids = {}
    for address, text, _ in EVERY_PRIORITY:
        ids[address] = await console.person(address, text)
    body = await (await b.get("/console/api/queue")).json()
    order = ["critical1", "critical2", "high1", "high2", "normal1", "normal2", "low1", "low2"]
    assert [e["conversation_id"] for e in body["waiting"]] == [ids[a] for a in order]
    assert [e["priority"] for e in body["waiting"]] == ["critical"] * 2 + ["high"] * 2 + ["normal"] * 2 + [
        "low"
    ] * 2
    first = body["waiting"][0]
    assert first["channel"] == "memory" and first["language"] == "sv" and first["intent"] == "urgent_threat"
    assert first["waiting_seconds"] >= 0
    assert body["mine"] == [] and body["load"] == 0 and body["capacity"] == 3


async def test_two_counsellors_claim_at_once_exactly_one_wins(console_any_db: Console) -> None:
    console = console_any_db
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert")
    for round_ in range(3):
        conv = await console.person(f"p{round_}", "min son har blivit radikal")
        results = await asyncio.gather(anna.claim(conv), bert.claim(conv))
        statuses = sorted(r.status for r in results)
        assert statuses == [200, 409]
        loser = next(r for r in results if r.status == 409)
        assert (await loser.json()) == {"error": "already_claimed"}
    anna_q = await (await anna.get("/console/api/queue")).json()
    bert_q = await (await bert.get("/console/api/queue")).json()
    assert anna_q["load"] + bert_q["load"] == 3
    assert anna_q["waiting"] == []


async def test_capacity_limits_how_many_conversations_one_holds(console: Console) -> None:
    anna = await console.signed_in("anna", capacity=2)
    convs = [await console.person(f"p{i}", "jag oroar mig för min bror") for i in range(3)]
    assert (await anna.claim(convs[0])).status == 200
    assert (await anna.claim(convs[1])).status == 200
    third = await anna.claim(convs[2])
    assert third.status == 409 and (await third.json()) == {"error": "capacity_full"}
    q = await (await anna.get("/console/api/queue")).json()
    assert q["load"] == 2 and q["capacity"] == 2
    assert {m["conversation_id"] for m in q["mine"]} == set(convs[:2])
    assert [e["conversation_id"] for e in q["waiting"]] == [convs[2]]


async def test_reply_reaches_the_person(console: Console) -> None:
    anna = await console.signed_in("anna")
    conv = await console.person("person@example.org", "min dotter pratar om en rörelse")
    # A reply before claiming is refused.
    early = await anna.post(f"/console/api/conversations/{conv}/reply", {"text": "Hej"})
    assert early.status == 409
    assert (await anna.claim(conv)).status == 200
    await console.memory.wait_for("person@example.org", lambda r: r.kind == "assigned")
    resp = await anna.post(f"/console/api/conversations/{conv}/reply", {"text": "Hej, jag heter Anna."})
    assert resp.status == 200
    sent = (await resp.json())["message"]
    assert sent["kind"] == "counsellor" and sent["seq"] == 3
    got = await console.memory.wait_for(
        "person@example.org", lambda r: r.kind == "message" and r.text == "Hej, jag heter Anna."
    )
    assert got.envelope is not None and got.envelope.sender_kind.value == "counsellor"
    empty = await anna.post(f"/console/api/conversations/{conv}/reply", {"text": "   "})
    assert empty.status == 422


async def test_counsellor_typing_is_shown_to_the_person(console: Console) -> None:
    anna = await console.signed_in("anna")
    conv = await console.person("p", "min dotter pratar om en rörelse")
    assert (await anna.claim(conv)).status == 200
    assert (await anna.post(f"/console/api/conversations/{conv}/typing", {"typing": True})).status == 200
    await console.memory.wait_for("p", lambda r: r.kind == "typing")
    bad = await anna.post(f"/console/api/conversations/{conv}/typing", {"typing": "yes"})
    assert bad.status == 422 and (await bad.json())["error"] == "typing_must_be_bool"


async def test_transfer_to_a_colleague_and_release_back_to_the_queue(console: Console) -> None:
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert", capacity=1)
    conv = await console.person("p", "jag oroar mig för min bror")
    other = await console.person("q", "min kompis har blivit konstig")
    assert (await anna.claim(conv)).status == 200
    assert (await anna.claim(other)).status == 200
    unknown = await anna.post(f"/console/api/conversations/{conv}/transfer", {"to": "nobody"})
    assert unknown.status == 404
    resp = await anna.post(f"/console/api/conversations/{conv}/transfer", {"to": "bert"})
    assert resp.status == 200
    bert_q = await (await bert.get("/console/api/queue")).json()
    assert [m["conversation_id"] for m in bert_q["mine"]] == [conv]
    # Anna no longer holds it: she cannot read or answer it any more; Bert can.
    assert (await anna.get(f"/console/api/conversations/{conv}")).status == 403
    assert (await anna.post(f"/console/api/conversations/{conv}/reply", {"text": "hallå"})).status == 409
    assert (await bert.get(f"/console/api/conversations/{conv}")).status == 200
    # Bert is full: a second transfer to him is refused.
    full = await anna.post(f"/console/api/conversations/{other}/transfer", {"to": "bert"})
    assert full.status == 409 and (await full.json()) == {"error": "capacity_full"}
    # Release puts it back in the queue for anyone.
    assert (await bert.post(f"/console/api/conversations/{conv}/release")).status == 200
    q = await (await anna.get("/console/api/queue")).json()
    assert [e["conversation_id"] for e in q["waiting"]] == [conv]
    assert (await bert.post(f"/console/api/conversations/{conv}/release")).status == 409
    assert [e.conversation_id for e in await audit(console, "conversation.transferred")] == [conv]


async def test_close_ends_the_conversation(console: Console) -> None:
    anna = await console.signed_in("anna")
    conv = await console.person("p", "jag oroar mig för min bror")
    assert (await anna.post(f"/console/api/conversations/{conv}/close")).status == 409  # claim first
    assert (await anna.claim(conv)).status == 200
    assert (await anna.post(f"/console/api/conversations/{conv}/close", {"reason": "done"})).status == 200
    await console.memory.wait_for("p", lambda r: r.kind == "closed")
    q = await (await anna.get("/console/api/queue")).json()
    assert q["mine"] == [] and q["waiting"] == [] and q["load"] == 0
    async with console.db.session() as session:
        assert (await session.get(Conversation, conv)).state == "closed"  # type: ignore[union-attr]
    assert (await anna.post(f"/console/api/conversations/{conv}/reply", {"text": "hej"})).status == 409


async def test_opening_a_transcript_is_audited_and_only_for_its_holder(console: Console) -> None:
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert")
    sara = await console.signed_in("sara", role="supervisor")
    conv = await console.person("p", "de ska spränga skolan")
    await console.person("p", "på fredag")
    # Nobody holds it yet: a counsellor cannot read it from the queue.
    assert (await anna.get(f"/console/api/conversations/{conv}")).status == 403
    assert (await anna.claim(conv)).status == 200
    assert (await bert.get(f"/console/api/conversations/{conv}")).status == 403
    resp = await anna.get(f"/console/api/conversations/{conv}")
    assert resp.status == 200
    body = await resp.json()
    kinds = [(m["seq"], m["kind"]) for m in body["messages"]]
    assert kinds == [(1, "person"), (2, "bot"), (3, "person")]
    first = body["messages"][0]
    assert first["text"] == "de ska spränga skolan" and first["time"]
    assert first["triage"]["intent"] == "urgent_threat" and first["triage"]["priority"] == "critical"
    assert first["triage"]["confidence"] == 0.9 and first["triage"]["matched_rules"] == []
    assert body["suggested_response"] == "SAFE:urgent_threat"  # the most serious message's, not the latest
    assert body["conversation"]["assigned_to"] == "anna"
    assert (await sara.get(f"/console/api/conversations/{conv}")).status == 200

    opened = await audit(console, "transcript.opened")
    # Anna's claim brought the transcript (an opening), then she read it again; then Sara.
    assert [(e.actor, e.conversation_id) for e in opened] == [("anna", conv), ("anna", conv), ("sara", conv)]
    assert all(e.at is not None for e in opened)
    denied = await audit(console, "transcript.denied")
    assert sorted(e.actor for e in denied) == ["anna", "bert"]
    log = await (await sara.get(f"/console/api/audit?conversation_id={conv}")).json()
    actions = [(e["actor"], e["action"]) for e in log["events"]]
    assert ("anna", "transcript.opened") in actions and ("sara", "transcript.opened") in actions
    assert ("anna", "conversation.claimed") in actions


async def test_supervisor_sees_every_active_conversation_and_each_load(console: Console) -> None:
    anna = await console.signed_in("anna", capacity=2)
    await console.signed_in("bert", capacity=4)
    sara = await console.signed_in("sara", role="supervisor")
    c1 = await console.person("p1", "min bror har blivit radikal")
    c2 = await console.person("p2", "han vill resa till syrien")
    await console.person("p3", "hej")  # with the bot only
    assert (await anna.claim(c1)).status == 200
    view = await (await sara.get("/console/api/supervisor")).json()
    loads = {c["username"]: (c["load"], c["capacity"]) for c in view["counsellors"]}
    assert loads == {"anna": (1, 2), "bert": (0, 4), "sara": (0, 3)}
    states = {c["conversation_id"]: (c["state"], c["assigned_to"]) for c in view["conversations"]}
    assert states[c1] == ("assigned", "anna") and states[c2] == ("queued", None)
    assert len(view["conversations"]) == 3
    assert (await anna.get("/console/api/supervisor")).status == 403
    page = await sara.get("/console/supervisor")
    assert page.status == 200 and "Pågående samtal" in await page.text()


async def test_html_in_messages_is_escaped_in_server_rendered_pages(console: Console) -> None:
    anna = await console.signed_in("anna")
    evil = "<img src=x onerror=window.pwned=1><script>alert(1)</script> min son"
    conv = await console.person("p", evil)
    assert (await anna.claim(conv)).status == 200
    assert (
        await anna.post(f"/console/api/conversations/{conv}/reply", {"text": "<b>bold</b> & co"})
    ).status == 200
    page = await anna.get(f"/console/conversations/{conv}")
    assert page.status == 200
    html = await page.text()
    assert "&lt;img src=x onerror=window.pwned=1&gt;&lt;script&gt;alert(1)&lt;/script&gt; min son" in html
    assert "<img src=x" not in html and "<script>alert" not in html and "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in html
    # The JSON API gives the text unchanged; the page's script shows it with textContent.
    body = await (await anna.get(f"/console/api/conversations/{conv}")).json()
    assert body["messages"][0]["text"] == evil
