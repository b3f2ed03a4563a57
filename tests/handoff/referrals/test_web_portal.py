"""The municipality portal's page: only the municipality role gets it; a municipality user lands on it
after signing in; everyone else is refused."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.store.models import Role
from handoff.referrals.web import ROUTES
from tests.handoff.console.conftest import Console, start_console, stop_console

PAGE = "/console/portal"


@pytest.fixture
async def console(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Console]:
    c = await start_console(sqlite_url, tmp_path)
    try:
        yield c
    finally:
        await stop_console(c)


def test_the_page_is_in_the_route_table_for_the_municipality_role_only() -> None:
    [route] = [r for r in ROUTES if r.path == PAGE]
    assert route.method == "GET" and route.kind == "page"
    assert route.roles == {Role.MUNICIPALITY.value}


@pytest.mark.asyncio
async def test_a_municipality_user_lands_on_the_portal_and_gets_the_page(console: Console) -> None:
    house = await console.signed_in("kh.goteborg", "municipality")
    b = console.browser()
    await console.user("kh.two", "municipality", municipality_code="KH1480")
    resp = await b.login("kh.two")
    assert resp.status == 303 and resp.headers["Location"] == PAGE
    page = await house.get(PAGE)
    assert page.status == 200
    html = await page.text()
    assert '<script src="/console/static/portal.js"></script>' in html
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', html)
    assert "Hänvisningar till er" in html
    english = await house.get(PAGE + "?lang=en")
    assert "Referrals to you" in await english.text()
    script = await house.get("/console/static/portal.js")
    assert script.status == 200 and script.content_type == "text/javascript"


@pytest.mark.asyncio
@pytest.mark.parametrize("role", [r.value for r in Role if r is not Role.MUNICIPALITY])
async def test_every_other_role_gets_403_and_lands_on_the_console(console: Console, role: str) -> None:
    b = await console.signed_in(f"u_{role}", role)
    resp = await b.get(PAGE)
    assert resp.status == 403
    assert "Ingen behörighet" in await resp.text()
    other = console.browser()
    resp = await other.login(f"u_{role}")
    # Each role's own home (a trainee practises in the training space, issue 21).
    home = "/console/training" if role == Role.TRAINEE.value else "/console"
    assert resp.status == 303 and resp.headers["Location"] == home


@pytest.mark.asyncio
async def test_without_a_session_the_page_sends_you_to_the_login(console: Console) -> None:
    resp = await console.browser().get(PAGE)
    assert resp.status == 303 and resp.headers["Location"] == "/console/login"
