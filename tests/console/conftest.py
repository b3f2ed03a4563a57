"""A running gateway with the console, and signed-in staff members each with their own cookie jar."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bots.memory import MemoryAdapter
from gateway.app import create_app
from gateway.appkeys import DB, PIPELINE
from gateway.auth import create_user
from gateway.pipeline import Pipeline
from gateway.store.db import Database
from gateway.store.models import StaffUser
from tests.core.conftest import KeywordTriager, make_settings

PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@dataclass
class Browser:
    """One person at the console: an HTTP client with its own cookies (like one browser)."""

    base: str
    http: aiohttp.ClientSession
    csrf: str = ""
    username: str = ""

    def url(self, path: str) -> str:
        return self.base + path

    async def login(self, username: str, password: str = PASSWORD) -> aiohttp.ClientResponse:
        async with self.http.get(self.url("/console/login")) as page:
            form_csrf = CSRF_INPUT.search(await page.text())
        assert form_csrf, "the login form carries a CSRF token"
        resp = await self.http.post(
            self.url("/console/login"),
            data={"username": username, "password": password, "csrf": form_csrf.group(1)},
            allow_redirects=False,
        )
        await resp.read()
        if resp.status == 303:
            self.username = username
            async with self.http.get(self.url("/console"), allow_redirects=False) as console:
                found = CSRF_META.search(await console.text())
            self.csrf = found.group(1) if found else ""
        return resp

    async def get(self, path: str, **kw: Any) -> aiohttp.ClientResponse:
        resp = await self.http.get(self.url(path), allow_redirects=False, **kw)
        await resp.read()
        return resp

    async def post(
        self, path: str, json: Any = None, *, csrf: str | None = None, **kw: Any
    ) -> aiohttp.ClientResponse:
        headers = dict(kw.pop("headers", {}))
        token = self.csrf if csrf is None else csrf
        if token:
            headers["X-CSRF-Token"] = token
        resp = await self.http.post(self.url(path), json=json, headers=headers, allow_redirects=False, **kw)
        await resp.read()
        return resp

    async def claim(self, conv_id: str) -> aiohttp.ClientResponse:
        return await self.post(f"/console/api/conversations/{conv_id}/claim")


@dataclass
class Console:
    server: TestServer
    memory: MemoryAdapter
    triager: KeywordTriager
    browsers: list[Browser] = field(default_factory=list)

    @property
    def base(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @property
    def db(self) -> Database:
        return self.server.app[DB]

    @property
    def pipeline(self) -> Pipeline:
        return self.server.app[PIPELINE]

    async def user(self, name: str, role: str = "counsellor", capacity: int = 3, **kw: Any) -> StaffUser:
        async with self.db.session() as session:
            return await create_user(
                session,
                name,
                PASSWORD,
                role,
                capacity=capacity,
                display_name=kw.pop("display_name", ""),
                **kw,
            )

    def browser(self) -> Browser:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        b = Browser(self.base, http)
        self.browsers.append(b)
        return b

    async def signed_in(self, name: str, role: str = "counsellor", capacity: int = 3) -> Browser:
        extra = {"municipality_code": "0180"} if role == "municipality" else {}
        await self.user(name, role, capacity, **extra)
        b = self.browser()
        resp = await b.login(name)
        assert resp.status == 303, resp.status
        return b

    async def person(self, address: str, text: str) -> str:
        return str((await self.memory.person_writes(address, text)).conversation_id)


async def start_console(db_url: str, tmp_path: Path, **extra: Any) -> Console:
    settings = make_settings(db_url, tmp_path, **extra)
    memory = MemoryAdapter(pseudonym_key=settings.pseudonym_key)
    triager = KeywordTriager()
    server = TestServer(create_app(settings, triager=triager, adapters=[memory]))
    await server.start_server()
    return Console(server, memory, triager)


async def stop_console(console: Console) -> None:
    for b in console.browsers:
        await b.http.close()
    await console.server.close()


@pytest.fixture
async def console(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Console]:
    c = await start_console(sqlite_url, tmp_path)
    try:
        yield c
    finally:
        await stop_console(c)


@pytest.fixture
async def console_any_db(db_url: str, tmp_path: Path) -> AsyncIterator[Console]:
    """The console on SQLite and on PostgreSQL."""
    c = await start_console(db_url, tmp_path)
    try:
        yield c
    finally:
        await stop_console(c)
