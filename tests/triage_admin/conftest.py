"""A running gateway with the console and the triage admin, its embedded triager, and signed-in staff.

The admin's tables are created with ``Base.metadata.create_all`` (after the Alembic migrations of
the core tables) until the lead generates their migration.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

import handoff.triage_admin.models  # noqa: F401  (the admin's tables on Base.metadata)
from bots.memory import MemoryAdapter
from gateway.app import create_app
from gateway.appkeys import ADAPTERS, DB
from gateway.auth import create_user
from gateway.store.db import Database
from gateway.store.models import Base
from handoff.triage_admin import web as triage_admin_web
from nlu.classifier import ModelArtifact
from nlu.triage import EmbeddedTriager, default_model
from tests.console.conftest import PASSWORD, Browser
from tests.core.conftest import make_settings

API = "/console/api/triage"


async def create_tables(url: str) -> None:
    db = Database(url)
    try:
        await db.upgrade()
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    finally:
        await db.close()


@dataclass
class Gateway:
    server: TestServer
    triager: EmbeddedTriager
    browsers: list[Browser] = field(default_factory=list)

    @property
    def base(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @property
    def db(self) -> Database:
        return self.server.app[DB]

    def browser(self) -> Browser:
        b = Browser(self.base, aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)))
        self.browsers.append(b)
        return b

    async def signed_in(self, name: str, role: str = "admin") -> Browser:
        async with self.db.session() as session:
            extra: dict[str, Any] = {"municipality_code": "0180"} if role == "municipality" else {}
            await create_user(session, name, PASSWORD, role, **extra)
        b = self.browser()
        resp = await b.login(name)
        assert resp.status == 303, resp.status
        return b

    async def close(self) -> None:
        for b in self.browsers:
            await b.http.close()
        await self.server.close()


async def start_gateway(
    db_url: str,
    tmp_path: Path,
    *,
    model: ModelArtifact | None = None,
    resync_seconds: float | None = None,
    **extra: Any,
) -> Gateway:
    """A gateway process (as ``gateway.app.create_app`` builds it) with the triage admin added
    (``setup`` is idempotent, so this holds also once the admin is one of ``EXTENSIONS``)."""
    settings = make_settings(db_url, tmp_path, **extra)
    triager = EmbeddedTriager(model or default_model())
    app = create_app(
        settings, triager=triager, adapters=[MemoryAdapter(pseudonym_key=settings.pseudonym_key)]
    )
    triage_admin_web.setup(app, resync_seconds=resync_seconds)
    server = TestServer(app)
    await server.start_server()
    return Gateway(server, triager)


@pytest.fixture
async def gw(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Gateway]:
    await create_tables(sqlite_url)
    g = await start_gateway(sqlite_url, tmp_path)
    try:
        yield g
    finally:
        await g.close()


@pytest.fixture
async def admin(gw: Gateway) -> Browser:
    return await gw.signed_in("ada", "admin")


async def json_of(resp: aiohttp.ClientResponse) -> Any:
    return await resp.json()


async def parse(b: Browser, text: str) -> dict[str, Any]:
    resp = await b.post(API + "/parse", {"text": text})
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


async def audit_actions(b: Browser) -> list[dict[str, Any]]:
    """The audit log as an admin sees it in the console (newest first)."""
    resp = await b.get("/console/api/audit")
    assert resp.status == 200
    events: list[dict[str, Any]] = (await resp.json())["events"]
    return events


async def train(b: Browser, timeout: float = 30.0) -> dict[str, Any]:
    """Start a retraining and wait (polling like the page does) until it has finished."""
    resp = await b.post(API + "/train")
    assert resp.status == 202, await resp.text()
    job_id = (await resp.json())["job"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = await b.get(f"{API}/train/{job_id}")
        job: dict[str, Any] = await r.json()
        if job["status"] != "running":
            return job
        await asyncio.sleep(0.1)
    raise AssertionError("training did not finish")


async def conversation(gw: Gateway, counsellor: Browser, address: str, *texts: str) -> dict[str, str]:
    """A person writes ``texts``; the counsellor takes the conversation.  Message ids by text."""
    memory = gw.server.app[ADAPTERS]["memory"]
    assert isinstance(memory, MemoryAdapter)
    conv = ""
    for text in texts:
        conv = str((await memory.person_writes(address, text)).conversation_id)
    assert (await counsellor.post(f"/console/api/conversations/{conv}/claim")).status == 200
    body = await (await counsellor.get(f"/console/api/conversations/{conv}")).json()
    ids = {m["text"]: m["id"] for m in body["messages"] if m["kind"] == "person"}
    ids["conversation"] = conv
    return ids


async def correct(counsellor: Browser, ids: dict[str, str], text: str, **payload: Any) -> int:
    resp = await counsellor.post(
        f"/console/api/conversations/{ids['conversation']}/messages/{ids[text]}/correction", payload
    )
    assert resp.status == 201, await resp.text()
    return int((await resp.json())["correction"]["id"])
