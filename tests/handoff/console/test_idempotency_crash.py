"""A staff action whose process dies between acting and answering (issue 15, item 2).

The death is simulated where it happens, through the real handlers: the step after the action's
commit (storing the answer) or the action's own transaction fails, and the dead process releases
nothing.  A resend with the same key then gets the original answer, or, when the action never
committed, is told ``in_progress`` while the first attempt's lease runs and acts (once) after it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import func, select, update

from gateway.envelope import utcnow
from gateway.store import action_keys
from gateway.store.models import AuditEvent, Message, StaffActionKey
from handoff.console import data as console_data
from handoff.console import idempotency
from handoff.disclosures.models import Disclosure
from handoff.records import web as records_web
from handoff.referrals.models import Referral
from handoff.referrals.service import Referrals
from tests.handoff.console.conftest import Browser, Console, start_console, stop_console
from tests.handoff.records.test_documentation import complete

METHODS = {
    "exit-fryshuset": [{"method": "email", "address": "mottagning@exit.example"}],
    "polisen": [{"method": "email", "address": "tips@polisen.example"}],
}


class Died(Exception):
    """The process died here: nothing after this point of the request runs."""


class _DiesAnswering:
    """aiohttp's ``web`` for a handler whose process dies as it makes its JSON answer."""

    def __init__(self, answered: list[tuple[int, Any]]) -> None:
        self.answered = answered

    def __getattr__(self, name: str) -> Any:
        return getattr(web, name)

    def json_response(self, body: Any, status: int = 200, **kw: Any) -> web.Response:
        self.answered.append((status, json.dumps(body)))
        raise Died


@pytest.fixture
async def console(db_url: str, tmp_path: Path) -> AsyncIterator[Console]:
    c = await start_console(db_url, tmp_path, **{"handoff.recipient_methods": METHODS})
    try:
        yield c
    finally:
        await stop_console(c)


@dataclass
class Action:
    path: str
    body: Any
    count: Callable[[], Awaitable[int]]
    """How many times the action is in the store."""


def _key() -> str:
    return uuid.uuid4().hex


async def _count(console: Console, model: Any, *where: Any) -> int:
    async with console.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def _send(b: Browser, action: Action, key: str) -> tuple[int, Any]:
    resp = await b.post(action.path, action.body, headers={"Idempotency-Key": key})
    return resp.status, await resp.json()


async def _lease_runs_out(console: Console, key: str) -> None:
    async with console.db.session() as s:
        await s.execute(
            update(StaffActionKey)
            .where(StaffActionKey.key == key)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )


async def _prepare(console: Console, anna: Browser, name: str, address: str) -> Action:
    """A conversation anna holds, and the action ``name`` on it."""
    conv = await console.person(address, "Min son vill lämna rörelsen")
    assert (await anna.claim(conv)).status == 200
    base = f"/console/api/conversations/{conv}"

    def counter(model: Any, *where: Any) -> Callable[[], Awaitable[int]]:
        return lambda: _count(console, model, *where)

    if name == "reply":
        mine = (Message.conversation_id == conv, Message.author_id.is_not(None))
        return Action(f"{base}/reply", {"text": "Berätta mer."}, counter(Message, *mine))
    if name == "transfer":
        await console.signed_in("bo")
        done = (AuditEvent.conversation_id == conv, AuditEvent.action == "conversation.transferred")
        return Action(f"{base}/transfer", {"to": "bo"}, counter(AuditEvent, *done))
    if name == "referral":
        body: dict[str, Any] = {
            "recipient_id": "exit-fryshuset",
            "topic": "exit",
            "contact_type": "relative",
            "summary": "En förälder vars son vill lämna en rörelse.",
        }
        return Action(f"{base}/referrals", body, counter(Referral, Referral.conversation_id == conv))
    if name == "disclosure":
        body = {
            "recipient_id": "polisen",
            "what": "Planerat sprängdåd mot en bro.",
            "certainty": "probable",
            "source_seqs": [1],
            "legal_ground": "avert_serious_crime",
        }
        return Action(f"{base}/disclosures", body, counter(Disclosure, Disclosure.conversation_id == conv))
    assert name == "documentation"
    assert (await anna.post(f"{base}/close", {"reason": "done"})).status == 200
    # A record is saved once and updated after: the audit tells a second save from the first (the
    # close's answer brought the form, and that opening is audited too: not a save).
    saved = (
        AuditEvent.conversation_id == conv,
        AuditEvent.action.in_(["documentation.saved", "documentation.updated"]),
    )
    return Action(f"{base}/documentation", {"values": complete()}, counter(AuditEvent, *saved))


ACTIONS = ["reply", "transfer", "referral", "disclosure", "documentation"]


def test_every_wrapped_action_records_its_answer_with_its_commit() -> None:
    assert sorted(idempotency.ANSWERS) == sorted(ACTIONS)
    with pytest.raises(ValueError):
        idempotency.idempotent("something_new", lambda request, staff: None)  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize("name", ACTIONS)
async def test_a_resend_after_a_death_after_the_commit_gets_the_original_answer(
    console: Console, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    anna = await console.signed_in("anna")
    action = await _prepare(console, anna, name, f"p-{name}")
    answered: list[tuple[int, Any]] = []

    async def dies_answering(db: Any, claim: Any, status: int, body: str) -> None:
        answered.append((status, body))  # what the handler answered, never stored nor sent
        raise Died

    if name == "reply":
        # Its answer is stored in its transaction with its key, nothing after: the process dies
        # in the handler, after the commit, as it makes the answer.
        made = console_data.client_message

        def dies_making_the_answer(message: Any) -> Any:
            answered.append((200, json.dumps({"message": made(message)})))
            raise Died

        monkeypatch.setattr(console_data, "client_message", dies_making_the_answer)
    elif name == "documentation":
        # The same, where the handler turns the committed record into its answer.
        monkeypatch.setattr(records_web, "web", _DiesAnswering(answered))
    else:
        monkeypatch.setattr(idempotency, "_answered", dies_answering)
    key = _key()
    first = await _send(anna, action, key)
    assert first[0] == 500 and len(answered) == 1  # the answer was lost with the process
    assert await action.count() == 1  # the action had committed
    monkeypatch.undo()

    original = (answered[0][0], json.loads(answered[0][1]))
    assert await _send(anna, action, key) == original  # at once: no lease to wait for
    await _lease_runs_out(console, key)
    assert await _send(anna, action, key) == original
    assert await action.count() == 1
    if name == "reply":
        await console.memory.wait_for(f"p-{name}", lambda r: r.text == "Berätta mer.")
        assert [r.text for r in console.memory.outbox[f"p-{name}"]].count("Berätta mer.") == 1


@pytest.mark.parametrize("name", ["reply", "referral", "documentation"])
async def test_an_action_that_died_before_its_commit_is_done_once_after_the_lease(
    console: Console, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    anna = await console.signed_in("anna")
    action = await _prepare(console, anna, name, f"q-{name}")

    async def dies_in_the_transaction(*args: Any) -> None:
        raise Died  # the transaction is not committed (a dead connection rolls it back)

    async def releases_nothing(*args: Any) -> None:
        return None

    monkeypatch.setattr(action_keys, "record_for", dies_in_the_transaction)
    monkeypatch.setattr(action_keys, "record_all", dies_in_the_transaction)
    monkeypatch.setattr(idempotency, "_release", releases_nothing)
    key = _key()
    assert (await _send(anna, action, key))[0] == 500
    monkeypatch.undo()
    assert await action.count() == 0

    if name in idempotency.INLINE:
        # Its key was claimed in the transaction that died: nothing is left of it, so a resend
        # acts at once, and once.
        done = await _send(anna, action, key)
        assert done[0] == 200 and await action.count() == 1
        assert await _send(anna, action, key) == done
        assert await action.count() == 1
        return
    # While the first attempt's lease runs, it may still be acting: a resend waits.
    assert await _send(anna, action, key) == (409, {"error": "in_progress"})
    assert await action.count() == 0
    await _lease_runs_out(console, key)
    done = await _send(anna, action, key)
    assert done[0] in (200, 201), done
    assert await action.count() == 1
    assert await _send(anna, action, key) == done
    assert await action.count() == 1


async def test_a_first_attempt_that_outlives_its_lease_cannot_create_a_second_referral(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    anna = await console.signed_in("anna")
    action = await _prepare(console, anna, "referral", "r1")
    create = Referrals.create
    entered, go_on = asyncio.Event(), asyncio.Event()
    calls = 0

    async def slow_first(self: Referrals, *args: Any, **kw: Any) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            entered.set()
            await go_on.wait()
        created: dict[str, Any] = await create(self, *args, **kw)
        return created

    monkeypatch.setattr(Referrals, "create", slow_first)
    key = _key()
    slow = asyncio.create_task(_send(anna, action, key))
    await entered.wait()
    assert await _send(anna, action, key) == (409, {"error": "in_progress"})
    await _lease_runs_out(console, key)
    taken_over = await _send(anna, action, key)
    assert taken_over[0] == 201, taken_over
    go_on.set()
    # The first attempt can no longer record its answer, so its referral is rolled back.
    assert await slow == (409, {"error": "in_progress"})
    assert await action.count() == 1
    assert await _send(anna, action, key) == taken_over


async def test_a_task_started_by_an_action_does_not_record_under_its_key() -> None:
    claim = action_keys.ActionClaim(1, "holder", "transfer", idempotency.ANSWERS["transfer"])
    token = action_keys.CLAIM.set(claim)
    try:
        assert action_keys.claimed("transfer") is claim
        assert action_keys.claimed("reply") is None
        # A task started now inherits the context, but is not the request acting under the key.
        assert await asyncio.create_task(_claimed_in_task("transfer")) is None
    finally:
        action_keys.CLAIM.reset(token)


async def _claimed_in_task(action: str) -> action_keys.ActionClaim | None:
    return action_keys.claimed(action)
