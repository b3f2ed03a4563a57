"""The transcript's answer brings the panel's other parts (handoff.console.panels): the page opens a
claimed conversation with one request instead of four, and sees what each part's own route shows."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.handoff.console.conftest import Console
from tests.handoff.history.test_person import audits, referral, returning_person


@contextmanager
def transactions_of(console: Console) -> Iterator[list[Any]]:
    """The transactions the console's requests begin inside the block (not the background's:
    the outbound relay, the delivery of the bot's messages)."""
    began: list[Any] = []
    engine = console.db.engine.sync_engine

    def listener(conn: Any) -> None:
        task = asyncio.current_task()  # a request's, the relay's, the delivery's
        if task is not None and "RequestHandler" in task.get_coro().__qualname__:  # type: ignore[union-attr]
            began.append(conn)

    event.listen(engine, "begin", listener)
    try:
        yield began
    finally:
        event.remove(engine, "begin", listener)


async def test_the_transcript_brings_referrals_disclosures_and_the_earlier_contacts(
    console_any_db: Console,
) -> None:
    console = console_any_db
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert")
    first, again = await returning_person(console, anna)
    async with console.db.session() as session:
        session.add(referral(again, "kunskapshus-orebro", "proposed"))

    base = f"/console/api/conversations/{again}"
    await anna.get(base + "/person")  # signed in and seen: what the request costs is its own
    with transactions_of(console) as transactions:
        opened = await anna.get(base)
    assert opened.status == 200
    # The guard's look, then one transaction for the transcript and every part (six before).
    assert len(transactions) == 2
    panels = (await opened.json())["panels"]
    assert [e["conversation_id"] for e in panels["person"]["earlier"]] == [first]
    assert [r["recipient_id"] for r in panels["referrals"]] == ["kunskapshus-orebro"]
    # The same as each part's own route answers (the page reads those again on a live event).
    assert panels["person"] == await (await anna.get(base + "/person")).json()
    assert panels["referrals"] == (await (await anna.get(base + "/referrals")).json())["referrals"]
    assert panels["disclosures"] == (await (await anna.get(base + "/disclosures")).json())["disclosures"]

    # A colleague who does not hold the conversation gets none of it.
    refused = await bert.get(base)
    assert refused.status == 403
    assert "panels" not in await refused.json()


async def test_the_close_brings_the_documentation_form_as_its_route_answers_it(
    console_any_db: Console,
) -> None:
    """After a close the page opens the documentation form from the close's answer: one request
    instead of three (the form and the pending list), the opening audited as a read of the form."""
    console = console_any_db
    anna = await console.signed_in("anna")
    conv = await console.person("p", "min son pratar om att skada folk på skolan")
    assert (await anna.claim(conv)).status == 200
    base = f"/console/api/conversations/{conv}"

    await anna.get(base)  # signed in and seen: what the close costs is its own
    with transactions_of(console) as transactions:
        closed = await anna.post(base + "/close", {})
    assert closed.status == 200
    # The close with the form read in its own transaction (two before).
    assert len(transactions) == 1, len(transactions)
    form = (await closed.json())["parts"]["documentation"]
    assert form["conversation_id"] == conv and form["state"] == "closed" and form["can_document"]
    assert form["channel"] and form["closed_at"]  # the pending list's entry for it
    assert [f["key"] for f in form["fields"]] and form["language"] == "sv"
    assert await audits(console, "documentation.opened") != []
    assert form == await (await anna.get(base + "/documentation")).json()
    pending = (await (await anna.get("/console/api/documentation/pending")).json())["pending"]
    assert pending == [
        {"id": conv, "closed_at": form["closed_at"], "intent": form["intent"], "channel": form["channel"]}
    ]


async def test_the_claim_brings_the_transcript_as_its_route_answers_it(console_any_db: Console) -> None:
    """The page opens a claimed conversation's panel from the claim's answer: the transcript with its
    parts, as ``GET`` of it answers, and its opening audited as that read is."""
    console = console_any_db
    anna = await console.signed_in("anna")
    conv = await console.person("p", "min son har blivit radikal, vad gör jag?")

    await anna.get("/console/api/queue")  # signed in and seen: what the claim costs is its own
    with transactions_of(console) as transactions:
        claimed = await anna.claim(conv)
    assert claimed.status == 200
    # The claim with the transcript read in its own transaction (two before).
    assert len(transactions) == 1, len(transactions)
    answer = await claimed.json()
    given = answer["transcript"]
    assert answer["ok"] and answer["conversation_id"] == conv
    assert given["conversation"]["assigned_to"] == "anna"
    assert [m["text"] for m in given["messages"] if m["kind"] == "person"] == [
        "min son har blivit radikal, vad gör jag?"
    ]
    assert set(given["panels"]) == {"referrals", "disclosures", "person"}
    opened = await audits(console, "transcript.opened")
    assert len(opened) == 1
    read = await (await anna.get(f"/console/api/conversations/{conv}")).json()
    # The same answer, but for the delivery of the bot's message, which may have moved since.
    assert set(given) == set(read)
    assert {k: v for k, v in given.items() if k != "messages"} == {
        k: v for k, v in read.items() if k != "messages"
    }
    assert [(m["seq"], m["kind"], m["text"]) for m in given["messages"]] == [
        (m["seq"], m["kind"], m["text"]) for m in read["messages"]
    ]
