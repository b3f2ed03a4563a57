"""A reply sent on the console's live socket: stored and sent once per key, answered with the
request's status and body, and the same action as the request with that key (the page resends an
unanswered frame as a request)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiohttp
from sqlalchemy import func, select

from gateway.appkeys import BROKER
from gateway.broker.base import Event
from gateway.events import notify_topic
from gateway.store.models import Message
from handoff.console.views import CONSOLE
from tests.gateway.conftest import BusyStore
from tests.handoff.console.conftest import Browser, Console
from tests.handoff.console.test_live import connect, next_of


def _key() -> str:
    return uuid.uuid4().hex


async def _ask(
    ws: aiohttp.ClientWebSocketResponse, frame: dict[str, Any], timeout: float = 10.0
) -> dict[str, Any]:
    """Send a reply frame and wait for the answer to its key (other frames are passed over)."""
    key = frame["key"]
    await ws.send_str(json.dumps({"type": "reply", **frame}))
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            assert msg.type is aiohttp.WSMsgType.TEXT, msg
            got: dict[str, Any] = json.loads(msg.data)
            if got.get("type") == "answer" and got.get("key") == key:
                return got


async def _socket(b: Browser) -> aiohttp.ClientWebSocketResponse:
    ws = await connect(b)
    await next_of(ws, "queue")  # the first frame: the socket is ready
    return ws


async def _held(console: Console, text: str) -> tuple[Browser, str, aiohttp.ClientWebSocketResponse]:
    """Anna, the conversation of person "p" she holds, and her live socket."""
    anna = await console.signed_in("anna")
    conv = await console.person("p", text)
    assert (await anna.claim(conv)).status == 200
    return anna, conv, await _socket(anna)


async def _replies(console: Console, conv: str) -> int:
    async with console.db.session() as s:
        mine = (Message.conversation_id == conv, Message.author_id.is_not(None))
        return int((await s.execute(select(func.count()).select_from(Message).where(*mine))).scalar_one())


async def test_a_reply_on_the_socket_reaches_the_person_once_per_key(console_any_db: Console) -> None:
    console = console_any_db
    anna, conv, ws = await _held(console, "Jag oroar mig för min bror")
    key = _key()
    frame = {"key": key, "conversation_id": conv, "text": "Berätta mer, på svenska: åäö."}
    first = await _ask(ws, frame)
    assert first["status"] == 200 and first["data"]["message"]["text"] == frame["text"]
    assert await _ask(ws, frame) == first  # the same key again: the first answer, nothing sent twice
    # The page resends a frame it got no answer to as a request with the same key: the same action.
    path = f"/console/api/conversations/{conv}/reply"
    resp = await anna.post(path, {"text": frame["text"]}, headers={"Idempotency-Key": key})
    assert resp.status == 200 and resp.headers.get("Idempotent-Replayed") == "true"
    assert await resp.json() == first["data"]
    assert await _replies(console, conv) == 1
    await console.memory.wait_for("p", lambda r: r.text == frame["text"])
    assert [r.text for r in console.memory.outbox["p"]].count(frame["text"]) == 1
    # The key bound to another text is refused, as for a request.
    assert (await _ask(ws, {**frame, "text": "Något annat."}))["status"] == 422
    await ws.close()


async def test_a_reply_refused_on_the_socket_says_why_and_keeps_the_socket(console: Console) -> None:
    _anna, conv, ws_anna = await _held(console, "min dotter pratar om en rörelse")
    ws = await _socket(await console.signed_in("bert"))
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"conversation_id": conv, "text": "Hej"}, 409, "not_assigned_to_you"),  # Anna's, not Bert's
        ({"conversation_id": "../x", "text": "Hej"}, 404, "not_found"),
        ({"conversation_id": conv}, 422, "text_required"),
        ({"conversation_id": conv, "text": ["Hej"]}, 422, "text_required"),
    ]
    for body, status, error in cases:
        key = _key()
        answer = await _ask(ws, {"key": key, **body})
        assert (answer["status"], answer["data"]["error"]) == (status, error), (body, answer)
    empty = _key()
    assert (await _ask(ws, {"key": empty, "conversation_id": conv, "text": "  "}))["status"] in (409, 422)
    await ws.send_str(json.dumps({"type": "reply", "key": "short", "conversation_id": conv, "text": "Hej"}))
    await ws.send_str('{"type":"ping"}')
    assert (await next_of(ws, "pong"))["type"] == "pong"  # a frame without a usable key: no answer
    assert await _replies(console, conv) == 0
    # Anna, who holds it, may; the refused keys were released, so the same key now acts.
    key = _key()
    assert (await _ask(ws_anna, {"key": key, "conversation_id": conv, "text": "Hej"}))["status"] == 200
    assert await _replies(console, conv) == 1
    await ws.close()
    await ws_anna.close()


async def test_replies_beyond_the_allowance_wait_and_beyond_the_bound_are_refused(console: Console) -> None:
    _anna, conv, ws = await _held(console, "min son vill resa till syrien")
    keys = [_key() for _ in range(55)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    for i, key in enumerate(keys):
        await ws.send_str(
            json.dumps({"type": "reply", "key": key, "conversation_id": conv, "text": f"svar {i}"})
        )
    answers: list[tuple[float, dict[str, Any]]] = []
    async with asyncio.timeout(20):
        while len(answers) < len(keys):
            frame = json.loads((await ws.receive()).data)
            if frame.get("type") == "answer":
                answers.append((loop.time() - started, frame))
    assert sorted(a["key"] for _t, a in answers) == sorted(keys)
    statuses = [a["status"] for _t, a in answers]
    # Fifty wait or are stored (a burst of twenty, then ten a second); the five beyond are refused.
    assert statuses.count(200) == 50 and statuses.count(429) == 5, statuses
    assert all(a["data"] == {"error": "rate_limited"} for _t, a in answers if a["status"] == 429)
    assert max(t for t, a in answers if a["status"] == 200) >= 2.5  # thirty after the burst: 3 s
    assert await _replies(console, conv) == 50
    await ws.close()


async def test_a_reply_resent_on_the_socket_after_the_close_gets_its_answer(console_any_db: Console) -> None:
    console = console_any_db
    anna, conv, ws = await _held(console, "Min bror har ändrat sig")
    key = _key()
    frame = {"key": key, "conversation_id": conv, "text": "Vi hörs."}
    first = await _ask(ws, frame)
    assert first["status"] == 200
    assert (await anna.post(f"/console/api/conversations/{conv}/close", {"reason": "done"})).status == 200
    assert await _ask(ws, frame) == first
    other = _key()
    assert (await _ask(ws, {**frame, "key": other}))["status"] == 409
    await ws.close()


async def test_replies_left_on_a_closed_socket_are_stored_once_when_resent_by_request(
    console_any_db: Console,
) -> None:
    console = console_any_db
    anna, conv, ws = await _held(console, "min son vill resa till syrien")
    sent = [(_key(), f"svar {i}") for i in range(30)]
    for key, text in sent:
        await ws.send_str(json.dumps({"type": "reply", "key": key, "conversation_id": conv, "text": text}))
    await ws.close()  # ten still wait for their turn: dropped, or stored, never answered
    path = f"/console/api/conversations/{conv}/reply"
    for key, text in sent:  # what the page does with an ask the closed socket left unanswered
        resp = await anna.post(path, {"text": text}, headers={"Idempotency-Key": key})
        assert resp.status == 200 and (await resp.json())["message"]["text"] == text
    assert await _replies(console, conv) == 30


async def test_the_longest_reply_fits_a_frame_and_a_larger_frame_closes_the_socket(console: Console) -> None:
    # The longest reply allowed (4,000 characters by default), in a script of two bytes a
    # character: 8 KB on the socket.
    _anna, conv, ws = await _held(console, "Min bror har ändrat sig")
    longest = "å" * 4000
    answer = await _ask(ws, {"key": _key(), "conversation_id": conv, "text": longest})
    assert answer["status"] == 200 and answer["data"]["message"]["text"] == longest
    too_long = await _ask(ws, {"key": _key(), "conversation_id": conv, "text": longest + "å"})
    assert (too_long["status"], too_long["data"]["error"]) == (422, "invalid_text")
    assert await _replies(console, conv) == 1
    await ws.send_str(
        json.dumps({"type": "reply", "key": _key(), "conversation_id": conv, "text": "x" * 2**20})
    )
    # The live event of the stored reply may still be on its way: the close comes after it.
    closing = await ws.receive(timeout=10)
    while closing.type == aiohttp.WSMsgType.TEXT:
        assert json.loads(closing.data)["type"] == "conversation", closing.data
        closing = await ws.receive(timeout=10)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    assert ws.close_code == 1009  # message too big
    assert await _replies(console, conv) == 1


async def test_a_typing_signal_that_reads_a_busy_store_holds_up_no_reply_and_never_follows_one(
    console: Console,
) -> None:
    """A typing signal for a conversation the feed has not yet seen held reads it from the store,
    which under load takes a while (the first signal after a claim).  No reply on the socket waits
    for that read, the reply to the same conversation included: the signal is then moot and never
    told, so the person never sees "typing" after the answer."""
    anna = await console.signed_in("anna")
    slow, other = (
        await console.person("p1", "min son har blivit radikal"),
        await console.person("p2", "orolig"),
    )
    for conv in (slow, other):
        assert (await anna.claim(conv)).status == 200
    ws = await _socket(anna)
    await asyncio.sleep(0.3)  # the claims' events have reached the feed ...
    hub = console.app[CONSOLE].hub
    assert hub is not None
    hub._held.clear()  # ... which is then as before they did: the typing signal reads the store
    told: list[str] = []

    async def on_notify(event: Event) -> None:
        told.append(f"{event.payload['event']} {event.payload['conversation_id']}")

    await console.app[BROKER].fanout(notify_topic("memory"), on_notify)
    done: list[str] = []

    async def answers() -> None:
        while len([d for d in done if d.startswith("answer")]) < 2:
            frame = json.loads((await ws.receive()).data)
            if frame.get("type") == "answer":
                assert frame["status"] == 200, frame
                done.append(f"answer {keys[frame['key']]}")
                told.append(done[-1])

    keys = {_key(): slow, _key(): other}
    reader = asyncio.create_task(answers())
    async with BusyStore(console.db, done, reads_per_turn=5, read_seconds=0.3):  # the peek waits 1.5 s
        await ws.send_json({"type": "typing", "conversation_id": slow, "typing": True})
        for key, conv in keys.items():
            await ws.send_json({"type": "reply", "key": key, "conversation_id": conv, "text": "Svar"})
        await asyncio.sleep(0.1)
    async with asyncio.timeout(10):
        await reader
    for conv in (slow, other):  # both before the queued reads, the signal's among them
        assert done.index(f"answer {conv}") < done.index("read"), done
    await asyncio.sleep(1.0)  # the signal's own read, the last in line, has been answered
    assert f"typing {slow}" not in told, told
    assert await _replies(console, slow) == 1
    # A signal sent after the answer is told again, from the read the feed did not need.
    await ws.send_json({"type": "typing", "conversation_id": slow, "typing": True})
    async with asyncio.timeout(5):
        while f"typing {slow}" not in told:
            await asyncio.sleep(0.05)
    await ws.close()
