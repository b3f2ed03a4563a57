"""Issue 16, item 3: the web kit's route table, walked route by route.

Every guarded route of the running application (the console's, converted to :class:`handoff.web.Route`,
and the tables still adapted) answers 401 without a session (pages: 303 to the login page), 403 for
each role it does not allow, 403 for a POST without the CSRF token, 422 with ``fields`` for a body
that does not fit the route's schema, never 500 and never a traceback in the logs.  The OpenAPI 3.1
document at ``GET /api/openapi.json`` is valid, lists every route with its roles, and the real
answer of every GET API route (as a role it allows) fits the document's answer schema.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import pytest_asyncio
from openapi_spec_validator import validate as validate_openapi

from gateway.store.models import Role
from handoff.web import Route
from handoff.web.openapi import OPENAPI_PATH, plain_path, route_table
from tests.handoff.console.conftest import Browser, Console, start_console, stop_console

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOME_HEX = "0123456789abcdef0123456789abcdef"
SAMPLES = {
    "recipient_id": "polisen",
    "version": "v1",
    "correction_id": "1",
    "user_id": "999999",
    "session_id": "0123456789abcdef",
}
# Routes that need no session: the login form, static files, the signed callback of recipients.
PUBLIC = {
    ("GET", "/console/login"),
    ("POST", "/console/login"),
    # The second step of a login: the code of the second factor, or its enrolment (a pending
    # session, like the login form outside the guard; tests/console/test_second_factor.py).
    ("GET", "/console/login/code"),
    ("POST", "/console/login/code"),
    ("GET", "/console/login/enrol"),
    ("POST", "/console/login/enrol"),
    ("GET", "/console/static/{name}"),
    ("GET", "/console/admin-static/{name}"),
    ("POST", "/handoff/callback/referrals/{referral_id}"),
}
ROLES = [r.value for r in Role]


class Tracebacks(logging.Handler):
    """Every record logged with an exception, or by aiohttp's "Error handling request"."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info or "Traceback" in text or "Error handling request" in text:
            self.found.append(f"{record.name}: {text}")


@dataclass
class World:
    console: Console
    browsers: dict[str, Browser]
    table: list[Route]
    conversation: str
    tracebacks: Tracebacks
    statuses: list[tuple[str, int]] = field(default_factory=list)

    def concrete(self, route: Route) -> str:
        def sample(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "conversation_id":
                return self.conversation
            return SAMPLES.get(name, SOME_HEX)

        return re.sub(r"\{([A-Za-z_]+)\}", sample, plain_path(route.path))

    def seen(self, route: Route, status: int) -> int:
        self.statuses.append((f"{route.method} {route.path}", status))
        return status

    def clean(self) -> None:
        assert not [s for s in self.statuses if s[1] >= 500], "a route answered 5xx"
        assert not self.tracebacks.found, self.tracebacks.found


def cookie_for(b: Browser, path: str) -> dict[str, str]:
    """The session cookie, sent by hand outside ``/console`` (where the browser does not send it;
    ``/portal/api/situation`` is for clients that send it themselves)."""
    if path.startswith("/console"):
        return {}
    for cookie in b.http.cookie_jar:
        if cookie.key == "hl_console":
            return {"Cookie": f"hl_console={cookie.value}"}
    return {}


def route_id(route: Route) -> str:
    return f"{route.method} {plain_path(route.path)}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp: Path = tmp_path_factory.mktemp("webkit")
    tracebacks = Tracebacks()
    root = logging.getLogger()
    root.addHandler(tracebacks)
    console = await start_console(f"sqlite+aiosqlite:///{tmp / 'h.db'}", tmp)
    try:
        browsers = {role: await console.signed_in(f"kit_{role}", role) for role in ROLES}
        conv = await console.person("kit@example.org", "min bror pratar om en rörelse")
        assert (await browsers["counsellor"].claim(conv)).status == 200
        yield World(console, browsers, route_table(console.server.app), conv, tracebacks)
    finally:
        await stop_console(console)
        root.removeHandler(tracebacks)


def _table() -> list[Route]:
    """The table of a gateway built (not started) like the tests' own, for parametrizing."""
    from bots.memory import MemoryAdapter
    from tests.harness import KeywordTriager, build_app, make_settings

    tmp = Path(tempfile.mkdtemp(prefix="webkit-table-"))
    settings = make_settings("sqlite+aiosqlite:///:memory:", tmp)
    app = build_app(
        settings, triager=KeywordTriager(), adapters=[MemoryAdapter(pseudonym_key=settings.pseudonym_key)]
    )
    return route_table(app)


TABLE = _table()


async def test_the_table_holds_every_guarded_route_and_no_route_twice() -> None:
    keys = [(r.method, plain_path(r.path)) for r in TABLE]
    assert len(keys) == len(set(keys))
    assert len(TABLE) >= 71, len(TABLE)
    # Every table is converted now: the console's, the referrals', the disclosures', the
    # directory's, the records' and the triage admin's.
    assert not [r for r in TABLE if r.adapted]
    assert sum(not r.adapted for r in TABLE) >= 77


HANDOFF_TABLES = ("handoff.referrals.web", "handoff.disclosures.web", "handoff.directory.web")


async def test_the_handoff_tables_are_converted_with_bodies_and_answers() -> None:
    """The referrals', disclosures' and directory's routes are the kit's: every API route declares its
    answers, and every referral or disclosure POST that reads JSON declares its body."""
    import importlib

    reads_json = {
        "api_referral_create",
        "api_consent",
        "api_consent_not_asked",
        "portal_status",
        "api_disclosure_create",
        "api_disclosure_reject",
        "api_disclosure_review",
        "api_disclosure_phoned",
    }
    routes = [r for name in HANDOFF_TABLES for r in importlib.import_module(name).ROUTES]
    assert len(routes) == 33
    in_table = {(r.method, plain_path(r.path)): r for r in TABLE}
    for route in routes:
        assert isinstance(route, Route) and not route.adapted, route
        assert in_table[(route.method, plain_path(route.path))] is route
        if route.kind == "api":
            assert route.answers, route.describe()
        if route.handler.__name__ in reads_json:
            assert route.body is not None, route.describe()
    idempotent = {r.handler.__name__: r.idempotency for r in routes if r.idempotency}
    assert idempotent == {"api_referral_create": "referral", "api_disclosure_create": "disclosure"}


async def test_every_staff_route_of_the_router_is_in_the_table(world: World) -> None:
    table = {(r.method, plain_path(r.path)) for r in world.table}
    assert table == {(r.method, plain_path(r.path)) for r in TABLE}
    for resource in world.console.server.app.router.resources():
        path = resource.canonical
        if not path.startswith(("/console", "/portal", "/handoff")):
            continue
        for r in resource:
            if r.method == "HEAD" or (r.method, path) in PUBLIC:
                continue
            assert (r.method, path) in table, f"{r.method} {path} is not in the route table"


@pytest.mark.parametrize("route", TABLE, ids=route_id)
async def test_without_a_session(world: World, route: Route) -> None:
    anonymous = world.console.browser()
    path = world.concrete(route)
    if route.method == "GET":
        resp = await anonymous.get(path, headers={"Origin": world.console.base})
    else:
        resp = await anonymous.post(path, {})
    world.seen(route, resp.status)
    if route.kind == "page":
        assert resp.status == 303 and resp.headers["Location"] == "/console/login"
    else:
        assert resp.status == 401
        assert await resp.json() == {"error": "not_signed_in"}
    world.clean()


@pytest.mark.parametrize("route", [r for r in TABLE if set(r.roles) != set(ROLES)], ids=route_id)
async def test_each_role_not_allowed_gets_403(world: World, route: Route) -> None:
    refused = [role for role in ROLES if role not in route.roles]
    for role in refused:
        b = world.browsers[role]
        path = world.concrete(route)
        if route.method == "GET":
            resp = await b.get(path, headers={"Origin": b.base, **cookie_for(b, path)})
        else:
            resp = await b.post(path, {}, headers=cookie_for(b, path))
        assert world.seen(route, resp.status) == 403, role
        if route.kind != "page":
            assert await resp.json() == {"error": "forbidden"}, role
    world.clean()


def allowed(route: Route) -> str:
    for role in ("admin", "supervisor", "counsellor", "municipality"):
        if role in route.roles:
            return role
    raise AssertionError(route)


@pytest.mark.parametrize("route", [r for r in TABLE if r.method == "POST"], ids=route_id)
async def test_post_without_the_csrf_token_gets_403(world: World, route: Route) -> None:
    b = world.browsers[allowed(route)]
    for token in ("", "wrong-token"):
        resp = await b.post(world.concrete(route), {}, csrf=token)
        assert world.seen(route, resp.status) == 403, token
        if route.kind != "page":
            assert await resp.json() == {"error": "csrf"}
    world.clean()


def wrong_body(route: Route) -> dict[str, Any]:
    """Every field the route's schema names, with a value of no field's type."""
    assert route.body is not None
    return {name: [[]] for name in route.body.model_json_schema()["properties"]}


@pytest.mark.parametrize("route", [r for r in TABLE if r.body is not None], ids=route_id)
async def test_a_body_that_does_not_fit_the_schema_gets_422_with_fields(world: World, route: Route) -> None:
    assert route.body is not None
    b = world.browsers[allowed(route)]
    resp = await b.post(world.concrete(route), wrong_body(route))
    assert world.seen(route, resp.status) == 422
    answer = await resp.json()
    assert isinstance(answer["error"], str)
    # (a field's path names the refused item: ``source_seqs.0``)
    assert {f.split(".")[0] for f in answer["fields"]} == set(route.body.model_json_schema()["properties"])
    assert all(isinstance(m, str) and m for m in answer["fields"].values())
    # Not a JSON object at all: 400, in the same shape.
    for raw in (b"[1]", b"{", b'"text"'):
        resp = await b.http.post(
            b.url(world.concrete(route)),
            data=raw,
            headers={"Content-Type": "application/json", "X-CSRF-Token": b.csrf},
        )
        assert world.seen(route, resp.status) == 400
        assert await resp.json() == {"error": "invalid_json"}
    world.clean()


# ---------------------------------------------------------------------- the OpenAPI document
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def document(world: World) -> dict[str, Any]:
    anonymous = world.console.browser()
    resp = await anonymous.get(OPENAPI_PATH)
    assert resp.status == 200
    return dict(await resp.json())


async def test_the_document_is_valid_openapi_31_and_lists_every_route_with_its_roles(
    world: World, document: dict[str, Any]
) -> None:
    assert document["openapi"] == "3.1.0"
    validate_openapi(document)
    for route in world.table:
        op = document["paths"][plain_path(route.path)][route.method.lower()]
        assert op["x-roles"] == sorted(route.roles)
        assert op["x-kind"] == route.kind
        assert op.get("x-adapted", False) == route.adapted
        if route.body is not None:
            assert "422" in op["responses"] and "requestBody" in op
        if route.idempotency is not None:
            assert op["x-idempotency"] == route.idempotency
    listed = sum(len(ops) for path, ops in document["paths"].items() if path != OPENAPI_PATH)
    assert listed == len(world.table)


def _schema(document: dict[str, Any], op: dict[str, Any], status: int, content_type: str) -> Any:
    responses = op["responses"]
    response = responses.get(str(status)) or responses.get(f"{status // 100}XX") or responses["default"]
    content = response.get("content", {})
    if content_type in content:
        return content[content_type]["schema"]
    assert "*/*" in content, (status, content_type, list(content))
    return None


def check(document: dict[str, Any], op: dict[str, Any], status: int, content_type: str, data: Any) -> None:
    schema = _schema(document, op, status, content_type)
    if schema is None:
        return
    jsonschema.Draft202012Validator(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            **schema,
            "components": document["components"],
        }
    ).validate(data)


def _get_api_routes() -> Iterator[Route]:
    for r in TABLE:
        if r.method == "GET" and r.kind == "api":
            yield r


@pytest.mark.parametrize("route", list(_get_api_routes()), ids=route_id)
async def test_the_answer_of_each_get_route_fits_the_document(
    world: World, document: dict[str, Any], route: Route
) -> None:
    op = document["paths"][plain_path(route.path)]["get"]
    for role in sorted(route.roles):
        b = world.browsers[role]
        path = world.concrete(route)
        resp = await b.get(path, headers=cookie_for(b, path))
        world.seen(route, resp.status)
        content_type = resp.headers.get("Content-Type", "").split(";")[0]
        data = await resp.json() if content_type == "application/json" else None
        check(document, op, resp.status, content_type, data)
    world.clean()


async def test_the_console_answers_are_declared_and_real_answers_fit_them(
    world: World, document: dict[str, Any]
) -> None:
    """The console's routes declare their answers; a few real POST answers fit them too."""
    from handoff.console import ROUTES as CONSOLE_ROUTES

    declared = [r for r in world.table if r.kind == "api" and any(r is c for c in CONSOLE_ROUTES)]
    assert len(declared) == 13
    assert all(r.answers for r in declared)
    counsellor = world.browsers["counsellor"]
    path = f"/console/api/conversations/{world.conversation}"
    ops = document["paths"]["/console/api/conversations/{conversation_id}"]
    resp = await counsellor.get(path)
    assert resp.status == 200
    check(document, ops["get"], 200, "application/json", await resp.json())
    for suffix, body, status in (
        ("/typing", {"typing": False}, 200),
        ("/reply", {"text": "Hej, jag heter Kit."}, 200),
        ("/reply", {"text": "   "}, 422),
        ("/transfer", {"to": "kit_counsellor"}, 409),
        ("/transfer", {"to": "nobody"}, 404),
    ):
        resp = await counsellor.post(path + suffix, body)
        assert resp.status == status, (suffix, await resp.text())
        op = document["paths"]["/console/api/conversations/{conversation_id}" + suffix]["post"]
        check(document, op, resp.status, "application/json", await resp.json())
    world.clean()
