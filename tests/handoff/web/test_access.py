"""Issue 16: who may act on a conversation is a route's declared ``acts_on`` (:mod:`handoff.web.access`),
enforced by the web kit's one guard.

Every route that declares it refuses a counsellor who does not hold the conversation (403 with the
route's code, audited on the conversation), answers 404 for a conversation or item that does not
exist, lets the holder through, and the OpenAPI document shows both refusals."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.store.models import AuditEvent
from handoff.web import Route
from handoff.web.openapi import plain_path

from .kit import BODIES, SOME_HEX, TABLE, World, route_id

pytestmark = pytest.mark.asyncio(loop_scope="module")

ACTS_ON = [r for r in TABLE if r.acts_on is not None]
CONV = "/console/api/conversations/{conversation_id}"
EXPECTED = {
    ("GET", "/console/conversations/{conversation_id}"),
    ("GET", CONV),
    ("GET", CONV + "/referrals"),
    ("POST", CONV + "/referrals"),
    ("GET", "/console/api/referrals/{referral_id}"),
    ("POST", "/console/api/referrals/{referral_id}/consent-request"),
    ("POST", "/console/api/referrals/{referral_id}/consent"),
    ("POST", "/console/api/referrals/{referral_id}/consent-not-asked"),
    ("GET", CONV + "/disclosures"),
    ("POST", CONV + "/disclosures"),
    ("GET", "/console/api/disclosures/{disclosure_id}"),
    ("GET", "/console/api/disclosures/{disclosure_id}/readout"),
    ("POST", "/console/api/disclosures/{disclosure_id}/phoned"),
    ("GET", CONV + "/documentation"),
    ("POST", CONV + "/documentation"),
    ("GET", CONV + "/person"),
    ("GET", CONV + "/person/{earlier_id}"),
    ("POST", CONV + "/forget"),
    ("GET", "/console/api/phone/calls/{conversation_id}"),
    ("GET", "/console/api/phone/calls/{conversation_id}/number"),
    ("POST", "/console/api/phone/calls/{conversation_id}/stop"),
}


async def test_the_routes_on_one_conversation_declare_it() -> None:
    assert {(r.method, plain_path(r.path)) for r in ACTS_ON} == EXPECTED


async def test_no_handler_checks_by_hand_who_may_act_on_a_conversation() -> None:
    """The check that each handler used to call (``may_act_on``) exists no more: the guard does it."""
    root = Path(__file__).resolve().parents[2] / "handoff"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = getattr(node, "name", None) or getattr(node, "id", None) or getattr(node, "attr", None)
            assert name != "may_act_on", path


async def test_the_conversation_comes_from_the_path_the_body_or_a_resolver() -> None:
    from aiohttp.test_utils import make_mocked_request

    from handoff.web import Body, in_body, in_path, resolved
    from handoff.web.validation import BODY_KEY

    class Moved(Body):
        conversation_id: str

    request = make_mocked_request("POST", "/x", match_info={"conversation_id": "a" * 32})
    request[BODY_KEY] = Moved(conversation_id="b" * 32)

    async def of_item(r: Any) -> str:
        return "c" * 32

    assert await in_path().conversation(request) == "a" * 32
    assert await in_body("conversation_id").conversation(request) == "b" * 32
    assert await resolved(of_item, "item_id").conversation(request) == "c" * 32
    assert (in_path().source, in_body("x").source, resolved(of_item, "item_id").source) == (
        "path:conversation_id",
        "body:x",
        "item_id",
    )


async def _denied(world: World, action: str) -> int:
    async with world.console.db.session() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.conversation_id == world.conversation)
        )
    return int(found or 0)


async def _send(world: World, who: str, route: Route, path: str) -> tuple[int, Any]:
    b = world.other if who == "other" else world.browsers[who]
    assert b is not None
    if route.method == "GET":
        resp = await b.get(path)
    else:
        resp = await b.post(path, BODIES.get((route.method, plain_path(route.path)), {}))
    world.seen(route, resp.status)
    if resp.headers.get("Content-Type", "").startswith("application/json"):
        return resp.status, await resp.json()
    return resp.status, await resp.text()


@pytest.mark.parametrize("route", ACTS_ON, ids=route_id)
async def test_a_counsellor_not_holding_the_conversation_is_refused_and_audited(
    world: World, document: dict[str, Any], route: Route
) -> None:
    assert route.acts_on is not None
    before = await _denied(world, route.acts_on.denied)
    status, answer = await _send(world, "other", route, world.concrete(route))
    assert status == 403
    if route.kind == "page":
        assert "kit_other" in answer  # the forbidden page, not the transcript
        assert "min bror" not in answer
    else:
        assert answer == {"error": route.acts_on.code}
    assert await _denied(world, route.acts_on.denied) == before + 1

    # Nothing by that id: 404, for a supervisor too.
    unknown = world.concrete(route, conversation_id=SOME_HEX, referral_id=SOME_HEX, disclosure_id=SOME_HEX)
    status, answer = await _send(world, "supervisor", route, unknown)
    assert status == 404
    if route.kind != "page":
        assert answer == {"error": "not_found"}

    # The document says so.
    op = document["paths"][plain_path(route.path)][route.method.lower()]
    assert "404" in op["responses"] and route.acts_on.rule_text in op["responses"]["403"]["description"]
    if route.kind != "page":
        assert f"`{route.acts_on.code}`" in op["responses"]["403"]["description"]
    assert op["x-acts-on"]["refusal"] == route.acts_on.code
    world.clean()


@pytest.mark.parametrize("route", [r for r in ACTS_ON if r.method == "GET"], ids=route_id)
async def test_the_holder_and_a_supervisor_are_let_through(world: World, route: Route) -> None:
    for who in ("counsellor", "supervisor"):
        status, answer = await _send(world, who, route, world.concrete(route))
        # (a readout is 409 ``not_awaiting_phone`` for a disclosure not to be phoned, an earlier
        # conversation of a person who has none 404, a call's routes on the world's chat 404: all
        # past the guard)
        past_guard = (status == 409 and answer == {"error": "not_awaiting_phone"}) or (
            status == 404 and ("{earlier_id" in route.path or "/phone/calls/" in route.path)
        )
        assert status == 200 or past_guard, (who, answer)
    world.clean()
