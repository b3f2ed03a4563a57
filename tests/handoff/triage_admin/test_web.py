"""Only admins reach the triage admin: every route refuses without a session, for every other role,
and (POST) without the CSRF token.  The tests walk :data:`handoff.triage_admin.web.ROUTES` (the
admin's and the corrections'), so a route added later cannot be forgotten."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from handoff.console import ConsoleRoute
from handoff.triage_admin import web as triage_admin_web
from tests.handoff.console.conftest import Browser
from tests.handoff.triage_admin.conftest import API, Gateway, create_tables, start_gateway

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOME_JOB = "0123456789abcdef0123456789abcdef"
NOT_ADMIN = ("counsellor", "supervisor", "municipality")
ROUTES = triage_admin_web.ROUTES


def concrete(path: str) -> str:
    return (
        path.replace("{job_id:[0-9a-f]{32}}", SOME_JOB)
        .replace("{version:[A-Za-z0-9._-]{1,100}}", "v1")
        .replace("{correction_id:[0-9]{1,12}}", "1")
    )


def route_id(route: ConsoleRoute) -> str:
    return f"{route.method} {route.path}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Gateway, dict[str, Browser]]]:
    tmp: Path = tmp_path_factory.mktemp("triage_access")
    url = f"sqlite+aiosqlite:///{tmp / 'h.db'}"
    await create_tables(url)
    gw = await start_gateway(url, tmp)
    try:
        browsers = {role: await gw.signed_in(f"u_{role}", role) for role in (*NOT_ADMIN, "admin")}
        yield gw, browsers
    finally:
        await gw.close()


async def status_of(b: Browser, route: ConsoleRoute, csrf: str | None = None) -> int:
    path = concrete(route.path)
    if route.method == "GET":
        return (await b.get(path)).status
    return (await b.post(path, {}, csrf=csrf)).status


async def test_every_admin_route_is_admin_only() -> None:
    assert ROUTES
    for route in ROUTES:
        assert route.roles == frozenset({"admin"}), route.path
        assert route.path.startswith("/console/"), "the session cookie is scoped to /console"


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
async def test_without_a_session(world: tuple[Gateway, dict[str, Browser]], route: ConsoleRoute) -> None:
    gw, _ = world
    anonymous = gw.browser()
    path = concrete(route.path)
    resp = await (anonymous.get(path) if route.method == "GET" else anonymous.post(path, {}))
    if route.kind == "page":  # like every console page: to the login form
        assert resp.status == 303
        assert resp.headers["Location"] == "/console/login"
    else:
        assert resp.status == 401
        assert (await resp.json()) == {"error": "not_signed_in"}


@pytest.mark.parametrize("role", NOT_ADMIN)
@pytest.mark.parametrize("route", ROUTES, ids=route_id)
async def test_other_roles_are_forbidden(
    world: tuple[Gateway, dict[str, Browser]], route: ConsoleRoute, role: str
) -> None:
    _, browsers = world
    assert await status_of(browsers[role], route) == 403


@pytest.mark.parametrize("route", [r for r in ROUTES if r.method == "POST"], ids=route_id)
async def test_posts_need_the_csrf_token(
    world: tuple[Gateway, dict[str, Browser]], route: ConsoleRoute
) -> None:
    _, browsers = world
    admin = browsers["admin"]
    path = concrete(route.path)
    for token in ("", "wrong-token"):
        resp = await admin.post(path, {"intent": "greet", "text": "hej hopp"}, csrf=token)
        assert resp.status == 403
        assert (await resp.json())["error"] == "csrf"


async def test_the_admin_gets_the_page_in_swedish_and_english(
    world: tuple[Gateway, dict[str, Browser]],
) -> None:
    _, browsers = world
    admin = browsers["admin"]
    sv = await admin.get("/console/triage?lang=sv")
    assert sv.status == 200
    html = await sv.text()
    assert "Träningsexempel" in html and "Säkra svar" in html and "Prova en mening" in html
    assert "/console/admin-static/admin_triage.js" in html
    assert sv.headers["Content-Security-Policy"].startswith("default-src 'self'")
    en = await admin.get("/console/triage?lang=en")
    html = await en.text()
    assert "Training examples" in html and "Safe responses" in html and "Try a sentence" in html
    script = await admin.get("/console/admin-static/admin_triage.js")
    assert script.status == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert (await admin.get("/console/admin-static/other.js")).status == 404


async def test_a_counsellor_sees_the_forbidden_page(world: tuple[Gateway, dict[str, Browser]]) -> None:
    _, browsers = world
    resp = await browsers["counsellor"].get("/console/triage")
    assert resp.status == 403
    assert "Ingen behörighet" in await resp.text()
    resp = await browsers["counsellor"].get(API + "/intents")
    assert (await resp.json()) == {"error": "forbidden"}
