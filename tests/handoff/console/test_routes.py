"""Every console route refuses without a session, with the wrong role, and (POST) without the CSRF token.

The tests walk :data:`handoff.console.ROUTES`, so a route added later cannot be forgotten.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from gateway.store.models import Role
from handoff.console import ROUTES, ConsoleRoute
from tests.handoff.console.conftest import Browser, Console, start_console, stop_console

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOME_ID = "0123456789abcdef0123456789abcdef"


def concrete(path: str) -> str:
    return path.replace("{conversation_id:[0-9a-f]{32}}", SOME_ID).replace(
        "{message_id:[0-9a-f]{32}}", SOME_ID
    )


def route_id(route: ConsoleRoute) -> str:
    plain = route.path.replace("{conversation_id:[0-9a-f]{32}}", "{id}")
    return f"{route.method} {plain.replace('{message_id:[0-9a-f]{32}}', '{message}')}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Console, dict[str, Browser]]]:
    tmp: Path = tmp_path_factory.mktemp("routes")
    console = await start_console(f"sqlite+aiosqlite:///{tmp / 'h.db'}", tmp)
    try:
        browsers = {role.value: await console.signed_in(f"u_{role.value}", role.value) for role in Role}
        yield console, browsers
    finally:
        await stop_console(console)


async def request(b: Browser, route: ConsoleRoute, csrf: str | None = None) -> int:
    path = concrete(route.path)
    if route.method == "GET":
        headers = {"Origin": b.base} if route.kind == "ws" else {}
        return (await b.get(path, headers=headers)).status
    return (await b.post(path, {}, csrf=csrf)).status


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
async def test_without_a_session_the_route_refuses(
    world: tuple[Console, dict[str, Browser]], route: ConsoleRoute
) -> None:
    console, _ = world
    anonymous = console.browser()
    resp = await (
        anonymous.get(concrete(route.path), headers={"Origin": console.base})
        if route.method == "GET"
        else anonymous.post(concrete(route.path), {})
    )
    if route.kind == "page":
        assert resp.status == 303 and resp.headers["Location"] == "/console/login"
    else:
        assert resp.status == 401
        assert (await resp.json()) == {"error": "not_signed_in"}


@pytest.mark.parametrize("route", [r for r in ROUTES if r.roles != {x.value for x in Role}], ids=route_id)
async def test_a_role_not_allowed_gets_403(
    world: tuple[Console, dict[str, Browser]], route: ConsoleRoute
) -> None:
    _, browsers = world
    refused = [role for role in browsers if role not in route.roles]
    assert refused
    for role in refused:
        assert await request(browsers[role], route) == 403, role


@pytest.mark.parametrize("route", [r for r in ROUTES if r.method == "POST"], ids=route_id)
async def test_post_without_or_with_a_wrong_csrf_token_gets_403(
    world: tuple[Console, dict[str, Browser]], route: ConsoleRoute
) -> None:
    _, browsers = world
    role = sorted(route.roles)[0]
    b = browsers[role]
    for token in ("", "wrong-token", browsers["admin" if role != "admin" else "supervisor"].csrf):
        resp = await b.http.post(
            b.url(concrete(route.path)),
            json={},
            headers={"X-CSRF-Token": token} if token else {},
            allow_redirects=False,
        )
        assert resp.status == 403, (role, token)


def _plain(path: str) -> str:
    """'/a/{id:[0-9a-f]{32}}/b' -> '/a/{id}/b', as aiohttp's formatter shows it."""
    out, depth, skipping = [], 0, False
    for ch in path:
        if ch == "{":
            depth += 1
            if depth > 1:
                continue
        elif ch == "}":
            depth -= 1
            if depth > 0:
                continue
            skipping = False
        elif ch == ":" and depth == 1:
            skipping = True
            continue
        if not skipping:
            out.append(ch)
    return "".join(out)


async def test_the_route_table_covers_every_console_route(world: tuple[Console, dict[str, Browser]]) -> None:
    console, _ = world
    public = {
        ("GET", "/console/login"),
        ("POST", "/console/login"),
        ("GET", "/console/static/{name}"),
        ("HEAD", "/console/login"),
        ("HEAD", "/console/static/{name}"),
        # The second step of a login (a pending session, no guard: handoff.console.second_step).
        *{(m, p) for m in ("GET", "HEAD", "POST") for p in ("/console/login/code", "/console/login/enrol")},
    }
    # Every extension's route table holds the roles each of its routes checks.
    from handoff.directory import web as directory_admin
    from handoff.disclosures import web as disclosures_web
    from handoff.history import web as history_web
    from handoff.phone import web as phone_web
    from handoff.records import web as records_web
    from handoff.referrals import web as referrals_web
    from handoff.shift import web as shift_web
    from handoff.staff import account_web
    from handoff.staff import web as staff_web
    from handoff.training import web as training_web
    from handoff.triage_admin import web as triage_admin_web

    public |= {("GET", "/console/admin-static/{name}"), ("HEAD", "/console/admin-static/{name}")}
    extension_routes: tuple[Any, ...] = (
        *referrals_web.ROUTES,
        *disclosures_web.ROUTES,
        *triage_admin_web.ROUTES,
        *directory_admin.ROUTES,
        *records_web.ROUTES,
        *shift_web.ROUTES,
        *history_web.ROUTES,
        *phone_web.ROUTES,
        *staff_web.ROUTES,
        *account_web.ROUTES,
        *training_web.ROUTES,
    )
    extension_paths = [(r.method, r.path) for r in extension_routes]
    paths = [(r.method, _plain(r.path)) for r in ROUTES]
    paths += [(m, _plain(p)) for m, p in extension_paths]
    table = set(paths) | {("HEAD", p) for m, p in paths if m == "GET"}
    for resource in console.server.app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter", "")
        if not str(path).startswith("/console"):
            continue
        for route in resource:
            assert (route.method, path) in table | public, f"{route.method} {path} is not in the route table"


async def test_municipality_users_may_only_sign_out(world: tuple[Console, dict[str, Browser]]) -> None:
    _, browsers = world
    b = browsers["municipality"]
    page = await b.get("/console")
    assert page.status == 403
    assert "Ingen behörighet" in await page.text()
    assert (await b.get("/console/api/queue")).status == 403
    out = await b.http.post(b.url("/console/logout"), data={"csrf": b.csrf}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/console/login"
    assert (await b.get("/console/api/queue")).status == 401


def _nav(page: str) -> str:
    found = re.search(r"<nav\b[^>]*>(.*?)</nav>", page, re.S)
    assert found is not None, "the page has the console's navigation"
    return found.group(1)


async def test_admins_find_the_directory_of_recipients_in_the_navigation(
    world: tuple[Console, dict[str, Browser]],
) -> None:
    _, browsers = world
    admin = browsers["admin"]
    nav = _nav(await (await admin.get("/console")).text())
    assert '<a href="/console/directory">Mottagarkatalog</a>' in nav
    nav = _nav(await (await admin.get("/console/supervisor?lang=en")).text())
    assert '<a href="/console/directory">Directory of recipients</a>' in nav
    page = await admin.get("/console/directory")
    assert page.status == 200
    assert '<a href="/console/directory" aria-current="page">' in _nav(await page.text())
    # Nobody else sees it (the page would refuse them anyway).
    for role, path in (("counsellor", "/console"), ("supervisor", "/console/supervisor")):
        page = await browsers[role].get(path)
        assert page.status == 200, role
        assert "/console/directory" not in _nav(await page.text()), role
