"""The JSON routes behind the console's login: the close form, erasure, the local situational picture."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from gateway.appkeys import DB
from gateway.auth import create_user
from gateway.store.db import Database
from handoff.records import web as records_web
from tests.handoff.records.conftest import (
    PASSWORD,
    ContactRecord,
    DocumentationRecord,
    Message,
    add_conversation,
    audit_actions,
    count,
    create_tables,
)
from tests.handoff.records.reports.test_service import END, START, generate
from tests.handoff.records.test_documentation import PNR, complete
from tests.harness import Browser, make_settings, start


@dataclass
class Site:
    server: TestServer
    sessions: list[aiohttp.ClientSession]

    @property
    def db(self) -> Database:
        return self.server.app[DB]  # type: ignore[index]

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def user(self, name: str, role: str = "counsellor", **kw: Any) -> int:
        async with self.db.session() as s:
            return (await create_user(s, name, PASSWORD, role, **kw)).id

    async def login(self, name: str) -> tuple[aiohttp.ClientSession, str]:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.sessions.append(http)
        # As staff sign in (a supervisor enrols a second factor first): the harness's login.
        b = Browser(self.url("").rstrip("/"), http)
        assert (await b.login(name)).status == 303
        return http, b.csrf


@pytest.fixture
async def site(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    started = await start(make_settings(sqlite_url, tmp_path), memory=True, extensions=[records_web.setup])
    server = started.server
    await create_tables(server.app[DB])  # type: ignore[index]
    s = Site(server, [])
    try:
        yield s
    finally:
        for http in s.sessions:
            await http.close()
        await started.close()


def doc_path(conv_id: str) -> str:
    return f"/console/api/conversations/{conv_id}/documentation"


async def test_close_form_refuses_missing_fields_then_documents(site: Site) -> None:
    anna_id = await site.user("anna")
    async with site.db.session() as s:
        conv_id = await add_conversation(s, assigned_to=anna_id, intent="concern_relative")
    http, csrf = await site.login("anna")

    async with http.get(site.url(doc_path(conv_id))) as resp:
        assert resp.status == 200
        form = await resp.json()
    assert form["values"]["contact_type"] == "relative" and form["can_document"] is True

    incomplete = {k: v for k, v in complete().items() if k not in ("gender", "summary")}
    async with http.post(
        site.url(doc_path(conv_id)), json={"values": incomplete}, headers={"X-CSRF-Token": csrf}
    ) as resp:
        assert resp.status == 422
        body = await resp.json()
    # The one error shape: each refused field with its message in the staff member's language.
    assert body["error"] == "invalid" and set(body) == {"error", "fields"}
    assert list(body["fields"]) == ["gender", "summary"]
    assert "måste fyllas i" in body["fields"]["summary"]

    async with http.post(site.url(doc_path(conv_id)), json={"values": complete()}) as resp:
        assert resp.status == 403, "no CSRF token, no save"

    values = complete(summary=f"Sonens personnummer är {PNR}.")
    async with http.post(
        site.url(doc_path(conv_id)), json={"values": values}, headers={"X-CSRF-Token": csrf}
    ) as resp:
        assert resp.status == 200
        saved = await resp.json()
    assert saved["state"] == "documented" and "personnummer" in saved["redacted"]
    async with http.get(site.url(doc_path(conv_id))) as resp:
        again = await resp.json()
    assert again["source"] == "saved" and again["state"] == "documented"
    assert PNR not in again["values"]["summary"]


async def test_only_a_supervisor_erases_and_the_erasure_is_audited(site: Site) -> None:
    anna_id = await site.user("anna")
    await site.user("sara", "supervisor")
    async with site.db.session() as s:
        conv_id = await add_conversation(s, assigned_to=anna_id)
    anna, anna_csrf = await site.login("anna")
    sara, sara_csrf = await site.login("sara")
    path = site.url(f"/console/api/conversations/{conv_id}/erase")

    async with anna.post(
        path, json={"reason": "person_request"}, headers={"X-CSRF-Token": anna_csrf}
    ) as resp:
        assert resp.status == 403
    async with sara.post(
        path, json={"reason": "person_request"}, headers={"X-CSRF-Token": sara_csrf}
    ) as resp:
        assert resp.status == 200
        assert await resp.json() == {
            "ok": True,
            "messages": 2,
            "contact_record": 1,
            "documentation_summary_cleared": False,
        }
    async with site.db.session() as s:
        assert await count(s, Message, Message.conversation_id == conv_id) == 0
        assert await count(s, ContactRecord, ContactRecord.conversation_id == conv_id) == 0
        events = await audit_actions(s, "conversation.erased")
    assert [(e.actor, e.conversation_id) for e in events] == [("sara", conv_id)]

    # the erased conversation can still be documented (coded fields), by the counsellor who had it
    async with anna.post(
        site.url(doc_path(conv_id)), json={"values": complete()}, headers={"X-CSRF-Token": anna_csrf}
    ) as resp:
        assert resp.status == 200
    async with site.db.session() as s:
        assert await s.get(DocumentationRecord, conv_id) is not None


async def test_municipality_sees_only_its_own_area(site: Site) -> None:
    await generate(site.db)
    await site.user("orebro", "municipality", municipality_code="1880")
    await site.user("sara", "supervisor")
    orebro, _ = await site.login("orebro")
    query = f"?from={START.isoformat()}&to={END.isoformat()}"

    async with orebro.get(site.url("/console/portal/api/situation" + query)) as resp:
        assert resp.status == 200
        report = await resp.json()
    assert report["area"]["id"] == "1880" and report["total"] == 12
    municipalities = {
        c["key"] for d in report["dimensions"] if d["key"] == "municipality" for c in d["cells"]
    }
    assert municipalities == {"1880"}
    async with orebro.get(site.url("/console/portal/api/situation" + query + "&area=0180")) as resp:
        assert resp.status == 403
    async with orebro.get(site.url(doc_path("0" * 32))) as resp:
        assert resp.status == 403, "a municipality user has no access to conversations"

    sara, _ = await site.login("sara")
    async with sara.get(site.url("/console/portal/api/situation" + query + "&area=0180&format=html")) as resp:
        assert resp.status == 200
        page = await resp.text()
    assert "Lokal lägesbild" in page and "Stockholm" in page

    # setup() also started the hourly purge (retention defaults)
    assert site.server.app[records_web.SCHEDULER].interval == 3600.0  # type: ignore[index]

    anon = aiohttp.ClientSession()
    site.sessions.append(anon)
    async with anon.get(site.url("/portal/api/situation")) as resp:
        assert resp.status == 401


async def test_the_close_form_is_refused_to_a_counsellor_who_did_not_handle_it_and_audited(
    site: Site,
) -> None:
    anna_id = await site.user("anna")
    await site.user("bo")
    await site.user("sara", "supervisor")
    async with site.db.session() as s:
        conv_id = await add_conversation(s, assigned_to=anna_id, intent="concern_relative")
    bo, _ = await site.login("bo")
    async with bo.get(site.url(doc_path(conv_id))) as resp:
        assert resp.status == 403
        body = await resp.json()
    assert body["error"] == "not_your_conversation" and "values" not in body
    for name in ("anna", "sara"):
        http, _ = await site.login(name)
        async with http.get(site.url(doc_path(conv_id))) as resp:
            assert resp.status == 200
    async with site.db.session() as s:
        denied = await audit_actions(s, "documentation.denied")
        opened = await audit_actions(s, "documentation.opened")
    assert [(e.actor, e.conversation_id) for e in denied] == [("bo", conv_id)]
    assert sorted(e.actor for e in opened) == ["anna", "sara"]
