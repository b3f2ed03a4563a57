"""Dead letters in the pipeline (issue 15, item 4): what the store refuses for good is kept aside.

On PostgreSQL a channel id longer than ``messages.external_id`` (255) is refused by the server
(``StringDataRightTruncation``, a ``DataError``): redelivering would fail the same way for ever.
"""

from __future__ import annotations

from sqlalchemy import select

from gateway.envelope import Direction, Envelope, new_message_id, pseudonymize
from gateway.errors import DeadLettered
from gateway.store.models import DeadLetter, Message
from tests.gateway.conftest import Gateway


def _envelope(gateway: Gateway, text: str, external_id: str) -> Envelope:
    return Envelope(
        message_id=new_message_id(),
        direction=Direction.IN,
        channel="memory",
        sender=pseudonymize(gateway.settings.pseudonym_key, "memory", "anna@example.org"),
        text=text,
        external_id=external_id,
    )


async def test_a_value_the_store_refuses_becomes_a_dead_letter(gateway: Gateway) -> None:
    if gateway.db.is_sqlite:
        return  # SQLite keeps strings of any length: nothing to refuse
    refused = _envelope(gateway, "Hej, jag vill prata med någon.", "x" * 300)
    try:
        await gateway.pipeline.ingress(refused, "anna@example.org")
    except DeadLettered as exc:
        assert exc.reason.startswith("store refused")
    else:
        raise AssertionError("the store took an external id longer than its column")
    # The next message of the same person is stored as usual.
    await gateway.pipeline.ingress(_envelope(gateway, "Hallå igen.", "next-1"), "anna@example.org")
    async with gateway.db.session() as session:
        letters = list((await session.execute(select(DeadLetter))).scalars().all())
        texts = list((await session.execute(select(Message.text).where(Message.direction == "in"))).scalars())
    assert texts == ["Hallå igen."]
    assert [letter.channel for letter in letters] == ["memory"]
    raw = gateway.pipeline.dead_letters.open(letters[0].payload)
    assert (
        raw["address"] == "anna@example.org" and raw["envelope"]["text"] == "Hej, jag vill prata med någon."
    )
    assert b"anna@example.org" not in letters[0].payload


async def test_nul_and_lone_surrogates_are_stored_cleaned(gateway: Gateway) -> None:
    dirty = _envelope(gateway, "Min bror\u0000 pratar om\udc80 våld.", "dirty-1")
    result = await gateway.pipeline.ingress(dirty, "anna@example.org")
    async with gateway.db.session() as session:
        stored = await session.get(Message, result.message_id)
    assert stored is not None
    assert stored.text == "Min bror pratar om våld."
    assert stored.meta["cleaned"] == ["nul", "surrogate"]
