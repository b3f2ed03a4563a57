"""Rate limits hold for the fleet: two gateways sharing PostgreSQL and Redis count together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bots.webchat.adapter import WebchatAdapter
from gateway import ratelimit
from gateway.appkeys import DB
from gateway.auth import create_user
from gateway.config import new_key
from tests.bots.webchat.conftest import Visitor
from tests.handoff.console.conftest import PASSWORD, Browser
from tests.harness import Running, make_settings, start

PER_MINUTE = 6


async def _start(settings_overrides: dict[str, Any], tmp_path: Path) -> Running:
    settings = make_settings(None, tmp_path, channels={"webchat": {"enabled": False}}, **settings_overrides)
    adapter = WebchatAdapter(
        {"messages_per_minute": PER_MINUTE, "max_message_chars": 200}, pseudonym_key=settings.pseudonym_key
    )
    return await start(settings, adapters=[adapter])


@pytest.fixture
async def two(
    pg_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> AsyncIterator[list[TestServer]]:
    shared = {
        "database_url": pg_url,
        "redis_url": redis_url,
        "redis_prefix": redis_prefix,
        "secrets.pseudonym_key": new_key(),
        "secrets.contact_key": new_key(),
    }
    gateways: list[Running] = []
    try:
        for _ in range(2):
            gateways.append(await _start(shared, tmp_path))
        yield [gw.server for gw in gateways]
    finally:
        for gw in gateways:
            await gw.close()


async def _visitor(http: aiohttp.ClientSession, server: TestServer) -> Visitor:
    return Visitor(await http.ws_connect(server.make_url("/chat/ws")))


async def test_a_visitor_writing_through_two_processes_hits_the_limit_in_total(two: list[TestServer]) -> None:
    a, b = two
    async with aiohttp.ClientSession() as http:
        va = await _visitor(http, a)
        await va.hello()
        assert (await va.write("hej", "client-a000"))["type"] == "ack"
        welcome = await va.expect(lambda f: f["type"] == "welcome" and bool(f.get("conversation_id")))
        vb = await _visitor(http, b)
        back = await vb.hello(
            resume={"token": welcome["token"], "conversation_id": welcome["conversation_id"]}
        )
        assert back["conversation_id"] == welcome["conversation_id"]

        results = []
        for i in range(1, PER_MINUTE + 2):
            v, name = (vb, "b") if i % 2 else (va, "a")
            results.append((await v.write(f"meddelande {i}", f"client-{name}{i:03d}"))["type"])
        assert results == ["ack"] * (PER_MINUTE - 1) + ["error", "error"]
        refused = await va.write("ett till", "client-a999")
        assert refused["code"] == "rate_limited"
        # A resend of a message already taken is not counted, whichever process it reaches.
        again = await vb.write("meddelande 1", "client-b001")
        assert again["type"] == "ack"
        await va.close()
        await vb.close()


async def test_a_login_brute_force_spread_over_two_processes_is_limited_in_total(
    two: list[TestServer],
) -> None:
    async with two[0].app[DB].session() as session:
        await create_user(session, "anna", PASSWORD, "counsellor", capacity=3)
    sessions = [aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) for _ in range(2)]
    try:
        browsers = [Browser(str(s.make_url("")).rstrip("/"), h) for s, h in zip(two, sessions, strict=True)]
        statuses = [(await browsers[i % 2].login("nobody-here", f"guess {i}")).status for i in range(12)]
        assert statuses == [401] * 10 + [429, 429]
        limited = await browsers[1].login("nobody-here", "one more")
        assert "För många inloggningsförsök" in await limited.text()
        # Another user name is not held up by it, in either process.
        assert (await browsers[0].login("anna")).status == 303
        assert (await browsers[1].login("anna")).status == 303
    finally:
        for h in sessions:
            await h.close()


async def test_right_passwords_do_not_count_against_the_fleets_login_limit(two: list[TestServer]) -> None:
    """Issue 17: a counsellor who signs in again and again, through either process, is never held up
    by the login limit (ten attempts per name in five minutes, counted on Redis): a right password
    is taken back from the count."""
    async with two[0].app[DB].session() as session:
        await create_user(session, "anna", PASSWORD, "counsellor", capacity=3)
    for i in range(12):
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            browser = Browser(str(two[i % 2].make_url("")).rstrip("/"), http)
            assert (await browser.login("anna")).status == 303, i


async def test_redis_down_the_web_chat_still_takes_the_message(
    tmp_path: Path, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"redis://127.0.0.1:{free_port}/0"

    def broken(redis_url: str | None, *, prefix: str, pseudonym_key: bytes) -> ratelimit.RateLimiter:
        return ratelimit.RedisRateLimiter(dead, prefix=prefix, secret=ratelimit.limiter_secret(pseudonym_key))

    monkeypatch.setattr(ratelimit, "make_rate_limiter", broken)
    gw = await _start({"database_url": f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"}, tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            v = await _visitor(http, gw.server)
            await v.hello()
            for i in range(PER_MINUTE + 2):  # nothing counts while the limiter is down
                assert (await v.write(f"meddelande {i}", f"client-{i:04d}"))["type"] == "ack"
            await v.close()
    finally:
        await gw.close()
