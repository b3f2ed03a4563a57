"""The idempotency keys a batch of staff actions claims in its own transaction
(:func:`gateway.store.action_keys.record_all`), on SQLite and PostgreSQL: every new key is stored
with its answer, and one key already in the store fails the whole batch."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import default

from gateway.store import action_keys
from gateway.store.action_keys import KEYS, ActionClaim, KeyRow, KeyTaken
from gateway.store.db import Database
from gateway.store.models import StaffUser


def _claim(user_id: int, key: str) -> ActionClaim:
    return ActionClaim(
        row_id=0,
        holder="h" + key,
        action="reply",
        answer=lambda result: (201, {"seq": result}),
        task=None,
        here=KeyRow(user_id=user_id, key=key, request_hash="x" * 64, conversation_id=None),
    )


async def _user(db: Database) -> int:
    async with db.session() as session:
        user = StaffUser(username="anna", display_name="Anna", password_hash="x", role="counsellor")
        session.add(user)
        await session.flush()
        return user.id


async def _keys(db: Database) -> dict[str, tuple[int | None, str | None]]:
    async with db.connection() as conn:
        found = (await conn.execute(select(KEYS.c.key, KEYS.c.status, KEYS.c.body))).all()
    return {key: (status, body) for key, status, body in found}


async def test_a_batch_stores_every_new_key_with_its_answer_and_again_and_again(db: Database) -> None:
    user = await _user(db)
    # Batches of different sizes, one after another: each stores exactly its own keys.
    for batch in (["a", "b", "c"], ["d"], ["e", "f"], ["g", "h", "i", "j"]):
        claims = [(_claim(user, key), n) for n, key in enumerate(batch, start=3)]
        async with db.session() as session:
            await action_keys.record_all(session, claims)
        assert [claim.recorded for claim, _ in claims] == [201] * len(batch)

    stored = await _keys(db)
    assert sorted(stored) == list("abcdefghij")
    assert stored["c"] == (201, '{"seq": 5}')
    assert stored["j"] == (201, '{"seq": 6}')


async def test_one_key_already_stored_fails_the_batch_and_stores_none_of_it(db: Database) -> None:
    user = await _user(db)
    async with db.session() as session:
        await action_keys.record_all(session, [(_claim(user, "taken"), 1)])

    with pytest.raises(KeyTaken, match="1 of 3"):
        async with db.session() as session:
            await action_keys.record_all(
                session, [(_claim(user, "new1"), 2), (_claim(user, "taken"), 3), (_claim(user, "new2"), 4)]
            )

    assert await _keys(db) == {"taken": (201, '{"seq": 1}')}  # the batch rolled back


async def test_the_insert_is_compiled_once_not_for_every_batch(db: Database) -> None:
    # A multi-row VALUES in the statement is never cached by SQLAlchemy: it was compiled anew for
    # every reply, claim and close, a measurable share of the server's CPU under load.
    user = await _user(db)
    hits: list[object] = []

    def seen(
        conn: object, cursor: object, statement: str, params: object, context: object, many: bool
    ) -> None:
        if statement.startswith("INSERT INTO staff_action_keys"):
            hits.append(getattr(context, "cache_hit", None))

    event.listen(db.engine.sync_engine, "after_cursor_execute", seen)
    try:
        for n in range(4):
            batch = [(_claim(user, f"k{n}-{i}"), i) for i in range(n % 2 + 2)]
            async with db.session() as session:
                await action_keys.record_all(session, batch)
    finally:
        event.remove(db.engine.sync_engine, "after_cursor_execute", seen)

    assert len(hits) == 4
    assert hits[2:] == [default.CACHE_HIT] * 2  # sizes 2 and 3 were each compiled once, at most
