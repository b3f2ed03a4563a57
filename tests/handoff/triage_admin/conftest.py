"""A running gateway with the console and the triage admin, its embedded triager, and signed-in staff.

The admin's tables are created with ``Base.metadata.create_all`` (after the Alembic migrations of
the core tables) until the lead generates their migration.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import handoff.triage_admin.models  # noqa: F401  (the admin's tables on Base.metadata)
from gateway.store.db import Database
from gateway.store.models import Base
from handoff.triage_admin import web as triage_admin_web
from nlu.classifier import ModelArtifact
from nlu.triage import EmbeddedTriager, default_model
from tests.harness import Browser, Running, make_settings, start

API = "/console/api/triage"


async def create_tables(url: str) -> None:
    db = Database(url)
    try:
        await db.upgrade()
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    finally:
        await db.close()


class Gateway(Running):
    """The gateway with its memory channel, the triage admin and its embedded triager."""

    triager: EmbeddedTriager

    async def signed_in(self, name: str, role: str = "admin", capacity: int = 3) -> Browser:
        return await super().signed_in(name, role, capacity)


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
    return await start(
        make_settings(db_url, tmp_path, **extra),
        triager=EmbeddedTriager(model or default_model()),
        memory=True,
        extensions=[functools.partial(triage_admin_web.setup, resync_seconds=resync_seconds)],
        cls=Gateway,
    )


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
    conv = ""
    for text in texts:
        conv = await gw.person(address, text)
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
