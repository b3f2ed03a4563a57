"""The console's documentation UI: the list of conversations still to document, its roles, the pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from gateway.appkeys import DB
from gateway.envelope import utcnow
from tests.handoff.records.conftest import Conversation, add_conversation, create_tables
from tests.handoff.records.test_documentation import complete
from tests.handoff.records.test_web import Site, doc_path
from tests.harness import make_settings, start

PENDING = "/console/api/documentation/pending"


@pytest.fixture
async def site(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    started = await start(make_settings(sqlite_url, tmp_path), memory=True)
    server = started.server
    await create_tables(server.app[DB])  # type: ignore[index]
    s = Site(server, [])
    try:
        yield s
    finally:
        for http in s.sessions:
            await http.close()
        await started.close()


async def pending_of(http: aiohttp.ClientSession, site: Site) -> list[dict[str, object]]:
    async with http.get(site.url(PENDING)) as resp:
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == "no-store"
        body = await resp.json()
    assert body["more"] is False
    return list(body["pending"])


async def test_pending_list_shows_each_counsellor_their_own_and_supervisors_all(site: Site) -> None:
    now = utcnow()
    anna_id = await site.user("anna")
    bert_id = await site.user("bert")
    await site.user("sara", "supervisor")
    await site.user("orebro", "municipality", municipality_code="1880")
    async with site.db.session() as s:
        older = await add_conversation(
            s, assigned_to=anna_id, closed_at=now - timedelta(hours=3), intent="leave_movement"
        )
        newer = await add_conversation(
            s, assigned_to=anna_id, closed_at=now - timedelta(hours=1), channel="sms"
        )
        berts = await add_conversation(s, assigned_to=bert_id, closed_at=now - timedelta(hours=2))
        await add_conversation(s, assigned_to=anna_id, closed=False)  # still open
        await add_conversation(s, assigned_to=anna_id, state="documented")  # done
        # never left the bot, closed by the retention purge after idling: nothing to document
        idle = await add_conversation(s, closed_at=now - timedelta(minutes=5), queued=False, intent="greet")
        conv = await s.get(Conversation, idle)
        assert conv is not None
        conv.meta = {"closed_by": "system", "close_reason": "idle_bot"}

    anna, anna_csrf = await site.login("anna")
    mine = await pending_of(anna, site)
    assert [p["id"] for p in mine] == [newer, older], "newest close first"
    assert set(mine[0]) == {"id", "closed_at", "intent", "channel"}
    assert mine[0]["channel"] == "sms" and mine[1]["intent"] == "leave_movement"
    assert isinstance(mine[0]["closed_at"], str) and mine[0]["closed_at"].startswith(str(now.year))

    bert, _ = await site.login("bert")
    assert [p["id"] for p in await pending_of(bert, site)] == [berts]

    sara, _ = await site.login("sara")
    async with sara.get(site.url(PENDING)) as resp:
        assert (await resp.json())["supervisor"] is True
    assert [p["id"] for p in await pending_of(sara, site)] == [newer, berts, older]

    # documenting takes it off the list, for the counsellor and the supervisor alike
    async with anna.post(
        site.url(doc_path(newer)), json={"values": complete()}, headers={"X-CSRF-Token": anna_csrf}
    ) as resp:
        assert resp.status == 200
    assert [p["id"] for p in await pending_of(anna, site)] == [older]
    assert [p["id"] for p in await pending_of(sara, site)] == [berts, older]

    orebro, _ = await site.login("orebro")
    async with orebro.get(site.url(PENDING)) as resp:
        assert resp.status == 403, "a municipality user sees no conversations"
    anon = aiohttp.ClientSession()
    site.sessions.append(anon)
    async with anon.get(site.url(PENDING)) as resp:
        assert resp.status == 401


async def test_console_and_supervision_pages_load_the_records_script(site: Site) -> None:
    await site.user("anna")
    await site.user("sara", "supervisor")
    anna, _ = await site.login("anna")
    async with anna.get(site.url("/console")) as resp:
        page = await resp.text()
    assert 'id="records-area"' in page and '<script src="/console/static/records.js"></script>' in page
    async with anna.get(site.url("/console/static/records.js")) as resp:
        assert resp.status == 200 and resp.content_type == "text/javascript"
        script = await resp.text()
    assert "innerHTML" not in script and "eval(" not in script
    async with anna.get(site.url("/console/supervisor"), allow_redirects=False) as resp:
        assert resp.status == 403

    sara, _ = await site.login("sara")
    async with sara.get(site.url("/console/supervisor")) as resp:
        page = await resp.text()
    assert 'id="erase-area"' in page and '<script src="/console/static/records.js"></script>' in page
