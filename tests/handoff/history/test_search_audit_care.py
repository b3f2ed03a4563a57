"""Search (supervisors: documentation, and transcripts within retention; filters; pages; opening
audited), the audit page's API (filters, pages, CSV export audited) and care after a critical
conversation (a debrief note; who handled critical contacts in the shift)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from gateway.envelope import utcnow
from gateway.store.models import AuditEvent, Conversation
from handoff.history import search as search_module
from handoff.records.models import DocumentationRecord
from handoff.records.reports.periods import local_today
from tests.handoff.console.conftest import Browser, Console


async def documented(
    console: Console, anna: Browser, address: str, text: str, summary: str, muni: str
) -> str:
    conv = await console.person(address, text)
    assert (await anna.claim(conv)).status == 200
    assert (await anna.post(f"/console/api/conversations/{conv}/close", {})).status == 200
    async with console.db.session() as session:
        session.add(
            DocumentationRecord(conversation_id=conv, fields={}, summary=summary, municipality_code=muni)
        )
    return conv


async def audits(console: Console, action: str) -> list[AuditEvent]:
    async with console.db.session() as session:
        return list((await session.execute(select(AuditEvent).where(AuditEvent.action == action))).scalars())


async def test_search_documentation_and_transcripts_with_filters(console_any_db: Console) -> None:
    console = console_any_db
    anna = await console.signed_in("anna", capacity=10)
    sven = await console.signed_in("sven", "supervisor")
    brother = await documented(
        console, anna, "p1", "jag oroar mig för min bror", "Brodern i Örebro, RÅD givna", "1880"
    )
    school = await documented(
        console, anna, "p2", "min elev pratar om våld", "Lärare orolig för elev", "0180"
    )

    async def run(**q: str) -> dict[str, object]:
        resp = await sven.get("/console/api/search", params=q)
        assert resp.status == 200, await resp.text()
        data = await resp.json()
        assert isinstance(data, dict)
        return data

    def ids(data: dict[str, object]) -> list[str]:
        return [r["conversation_id"] for r in data["results"]]  # type: ignore[attr-defined,index]

    assert set(ids(await run())) == {brother, school}
    assert ids(await run(q="råd")) == [brother]  # case-insensitive, also å
    assert ids(await run(q="orolig elev")) == [school]  # every word
    assert ids(await run(municipality="1880")) == [brother]
    assert ids(await run(q="100%")) == []  # % is a character, not a wildcard
    today = (
        local_today().isoformat()
    )  # the dates a supervisor types are Stockholm's (after 23:00 UTC, tomorrow's)
    assert len(ids(await run(**{"from": today, "to": today}))) == 2
    assert ids(await run(**{"to": "2020-01-01"})) == []
    assert ids(await run(channel="telegram")) == []
    assert set(ids(await run(channel="memory", intent="concern_relative"))) <= {brother, school}

    hits = await run(kind="transcripts", q="våld")
    assert ids(hits) == [school]
    results = hits["results"]
    assert isinstance(results, list) and len(results) == 1
    hit = results[0]
    assert hit["matches"] == 1 and "text" not in hit  # the list shows no transcript text
    assert (await sven.get("/console/api/search", params={"from": "igår"})).status == 422
    assert (await sven.get("/console/api/search", params={"kind": "everything"})).status == 422

    # A transcript past its retention period is not searched (documentation still is).
    async with console.db.session() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.id == school)
            .values(closed_at=utcnow() - timedelta(days=31))
        )
    assert ids(await run(kind="transcripts", q="våld")) == []
    assert ids(await run(q="elev")) == [school]

    # Opening a result is audited.
    opened = await sven.get(f"/console/api/search/records/{brother}")
    assert opened.status == 200 and (await opened.json())["summary"] == "Brodern i Örebro, RÅD givna"
    [event] = await audits(console, "search.opened")
    assert event.actor == "sven" and event.conversation_id == brother
    # Counsellors do not search.
    assert (await anna.get("/console/api/search")).status == 403


async def test_search_pages(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    anna = await console.signed_in("anna", capacity=10)
    sven = await console.signed_in("sven", "supervisor")
    for i in range(5):
        await documented(console, anna, f"p{i}", "jag oroar mig för min bror", f"Samtal {i}", "1880")
    monkeypatch.setattr(search_module, "PAGE_SIZE", 2)
    first = await (await sven.get("/console/api/search", params={"page": "1"})).json()
    third = await (await sven.get("/console/api/search", params={"page": "3"})).json()
    assert first["total"] == 5 and first["pages"] == 3 and len(first["results"]) == 2
    assert len(third["results"]) == 1
    assert not {r["conversation_id"] for r in first["results"]} & {
        r["conversation_id"] for r in third["results"]
    }
    assert (await sven.get("/console/api/search", params={"page": "0"})).status == 422


async def test_audit_log_filters_pages_and_an_audited_export(console_any_db: Console) -> None:
    console = console_any_db
    anna = await console.signed_in("anna")
    sven = await console.signed_in("sven", "supervisor")
    admin = await console.signed_in("ada", "admin")
    conv = await console.person("p", "jag oroar mig för min bror")
    other = await console.person("q", "min syster")
    assert (await anna.claim(conv)).status == 200
    assert (await anna.claim(other)).status == 200
    assert (await anna.get(f"/console/api/conversations/{conv}")).status == 200

    page = await (await sven.get("/console/api/audit-log", params={"actor": "anna"})).json()
    assert {e["actor"] for e in page["events"]} == {"anna"}
    assert {"conversation.claimed", "transcript.opened"} <= {e["action"] for e in page["events"]}
    only = await (
        await sven.get(
            "/console/api/audit-log", params={"conversation_id": conv, "action": "conversation.claimed"}
        )
    ).json()
    assert only["total"] == 1 and only["events"][0]["conversation_id"] == conv
    assert "conversation.claimed" in only["actions"]
    none = await (await sven.get("/console/api/audit-log", params={"to": "2020-01-01"})).json()
    assert none["total"] == 0
    assert (await sven.get("/console/api/audit-log", params={"from": "x"})).status == 422
    assert (await anna.get("/console/api/audit-log")).status == 403
    assert (await admin.get("/console/api/audit-log")).status == 200

    exported = await sven.get("/console/api/audit-log.csv", params={"actor": "anna"})
    assert exported.status == 200 and exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(await exported.text())))
    assert rows[0] == ["at", "actor", "action", "conversation_id", "details"]
    assert {r[1] for r in rows[1:]} == {"anna"} and len(rows) >= 4
    [event] = await audits(console, "audit.exported")
    assert event.actor == "sven" and event.details["filters"] == {"actor": "anna"}


async def test_a_debrief_after_a_critical_conversation_and_the_shift_view(console_any_db: Console) -> None:
    console = console_any_db
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert")
    sven = await console.signed_in("sven", "supervisor")
    critical = await console.person("p", "jag vill inte leva längre")
    normal = await console.person("q", "jag oroar mig för min bror")
    assert (await anna.claim(critical)).status == 200
    assert (await bert.claim(normal)).status == 200
    # Before the close a debrief is refused; a colleague cannot write one about it.
    early = await anna.post(f"/console/api/conversations/{critical}/debrief", {"note": "Tungt."})
    assert early.status == 409
    assert (await anna.post(f"/console/api/conversations/{critical}/close", {})).status == 200
    assert (await bert.post(f"/console/api/conversations/{critical}/debrief", {"note": "x"})).status == 403
    blank = await anna.post(f"/console/api/conversations/{critical}/debrief", {"note": "  "})
    assert blank.status == 422 and (await blank.json())["error"] == "note_required"
    sent = await anna.post(
        f"/console/api/conversations/{critical}/debrief", {"note": "Tungt samtal, ring mig på 070-123 45 67"}
    )
    assert sent.status == 201
    assert "070" not in (await sent.json())["note"]  # redacted like documentation

    shift = await (await sven.get("/console/api/care/shift")).json()
    assert [(h["username"], h["count"]) for h in shift["critical_handled"]] == [("anna", 1)]
    [note] = shift["debriefs"]
    assert note["author"] == "anna" and note["conversation_id"] == critical
    assert (await anna.get("/console/api/care/shift")).status == 403

    # Older than the shift (12 hours): no longer listed.
    async with console.db.session() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.id == critical)
            .values(closed_at=utcnow() - timedelta(hours=13))
        )
    shift = await (await sven.get("/console/api/care/shift")).json()
    assert shift["critical_handled"] == []


async def test_debrief_notes_go_with_the_transcript_and_with_an_erasure(console_any_db: Console) -> None:
    from handoff.history.models import DebriefNote
    from handoff.records.retention import RetentionPolicy, run_retention

    console = console_any_db
    anna = await console.signed_in("anna")
    sven = await console.signed_in("sven", "supervisor")
    old, erased = await console.person("p", "jag vill inte leva längre"), await console.person("q", "bomb")
    for conv in (old, erased):
        assert (await anna.claim(conv)).status == 200
        assert (await anna.post(f"/console/api/conversations/{conv}/close", {})).status == 200
        assert (
            await anna.post(f"/console/api/conversations/{conv}/debrief", {"note": "Tungt."})
        ).status == 201

    async def notes() -> set[str]:
        async with console.db.session() as session:
            return set((await session.execute(select(DebriefNote.conversation_id))).scalars())

    assert await notes() == {old, erased}
    resp = await sven.post(f"/console/api/conversations/{erased}/erase", {"reason": "person_request"})
    assert resp.status == 200, await resp.text()
    assert await notes() == {old}
    async with console.db.session() as session:
        await session.execute(
            update(Conversation).where(Conversation.id == old).values(closed_at=utcnow() - timedelta(days=31))
        )
    await run_retention(console.db, RetentionPolicy(), utcnow())
    assert await notes() == set()
