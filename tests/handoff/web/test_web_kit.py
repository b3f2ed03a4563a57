"""Issue 16, item 3: the web kit's route table, walked route by route.

Every guarded route of the running application (the console's, converted to :class:`handoff.web.Route`,
and the tables still adapted) answers 401 without a session (pages: 303 to the login page), 403 for
each role it does not allow, 403 for a POST without the CSRF token, 422 with ``fields`` for a body
that does not fit the route's schema, never 500 and never a traceback in the logs.  The OpenAPI 3.1
document at ``GET /api/openapi.json`` is valid, lists every route with its roles, and the real
answer of every GET API route (as a role it allows) fits the document's answer schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate as validate_openapi

from handoff.web import Route
from handoff.web.openapi import OPENAPI_PATH, plain_path

from .kit import PUBLIC, ROLES, TABLE, World, allowed, check, cookie_for, route_id

pytestmark = pytest.mark.asyncio(loop_scope="module")


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
    # (a schema may name its fields as its form does: the directory's ``serves`` is ``area``)
    named = {route.body.refused((name,), "")[0] for name in route.body.model_json_schema()["properties"]}
    assert {f.split(".")[0] for f in answer["fields"]} == named
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
        data = await resp.json() if content_type == "application/json" else await resp.text()
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
