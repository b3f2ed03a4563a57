"""What the person notices of the counsellor's side: a transfer is told in their language, and a
counsellor who stops typing is told as ``paused`` (XMPP's chat state)."""

from __future__ import annotations

from sqlalchemy import select

from gateway.catalogues import text
from gateway.store.models import Message
from tests.handoff.console.conftest import Console


async def test_a_transfer_tells_the_person_another_counsellor_takes_over(console_any_db: Console) -> None:
    console = console_any_db
    anna = await console.signed_in("anna")
    await console.signed_in("bert")
    sv = await console.person("p-sv", "jag oroar mig för min bror")
    en = await console.person("p-en", "i am worried about the kids at my school")
    for conv in (sv, en):
        assert (await anna.claim(conv)).status == 200
        assert (await anna.post(f"/console/api/conversations/{conv}/transfer", {"to": "bert"})).status == 200
    got_sv = await console.memory.wait_for(
        "p-sv", lambda r: r.kind == "message" and "samtalsstödjare" in r.text
    )
    assert got_sv.text == text("person", "sv", "notice.transferred")
    got_en = await console.memory.wait_for("p-en", lambda r: r.kind == "message" and "counsellor" in r.text)
    assert got_en.text == text("person", "en", "notice.transferred")
    # It is part of the transcript, as a system message, for the counsellor who takes over.
    async with console.db.session() as session:
        kinds = (
            (await session.execute(select(Message.sender_kind).where(Message.conversation_id == sv)))
            .scalars()
            .all()
        )
    assert kinds.count("system") == 1
    # A plain release tells nothing new.
    other = await console.person("q", "jag oroar mig för min syster")
    assert (await anna.claim(other)).status == 200
    assert (await anna.post(f"/console/api/conversations/{other}/release")).status == 200
    async with console.db.session() as session:
        released = (
            (await session.execute(select(Message.sender_kind).where(Message.conversation_id == other)))
            .scalars()
            .all()
        )
    assert "system" not in released


async def test_stopping_typing_reaches_the_channel_as_paused(console: Console) -> None:
    anna = await console.signed_in("anna")
    conv = await console.person("p", "min dotter pratar om en rörelse")
    assert (await anna.claim(conv)).status == 200
    assert (await anna.post(f"/console/api/conversations/{conv}/typing", {"typing": True})).status == 200
    await console.memory.wait_for("p", lambda r: r.kind == "typing")
    assert (await anna.post(f"/console/api/conversations/{conv}/typing", {"typing": False})).status == 200
    await console.memory.wait_for("p", lambda r: r.kind == "paused")
