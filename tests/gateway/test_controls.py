"""A provider's delivery report through ingress (gateway/controls.py, ``delivery_report``): it
needs no open conversation and no sender, ``delivered`` wins, ``failed`` is kept with its reason,
audited and sent to the consoles; a report on no outgoing message of the channel is refused.
(Typing and the end: tests/gateway/test_pipeline.py and tests/bots/webchat.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, select

from gateway.channel import (
    CONTROL_DELIVERED,
    CONTROL_DELIVERY_REPORT,
    CONTROL_END,
    CONTROL_PAUSED,
    CONTROL_TYPING,
)
from gateway.envelope import ConversationId, Direction, Envelope, Pseudonym, new_message_id
from gateway.errors import InvalidInput
from gateway.store.models import AuditEvent, Message
from tests.gateway.conftest import Gateway


def _report(channel: str, message_id: str, status: str, reason: str = "") -> Envelope:
    return Envelope(
        message_id=new_message_id(),
        direction=Direction.IN,
        channel=channel,
        sender=Pseudonym("nobody"),
        text="",
        meta={
            "control": CONTROL_DELIVERY_REPORT,
            "message_id": message_id,
            "status": status,
            "reason": reason,
        },
    )


async def _sent_answer(gateway: Gateway) -> tuple[str, str]:
    conv = str((await gateway.memory.person_writes("p", "jag oroar mig för min bror")).conversation_id)
    for _ in range(200):
        async with gateway.db.session() as session:
            found = (
                await session.execute(
                    select(Message).where(Message.direction == "out", Message.delivery == "sent")
                )
            ).scalar_one_or_none()
        if found is not None:
            return conv, found.id
        await asyncio.sleep(0.05)
    pytest.fail("the safe response was not sent")


async def _message(gateway: Gateway, message_id: str) -> Message:
    async with gateway.db.session() as session:
        found = await session.get(Message, message_id)
        assert found is not None
        return found


async def test_a_failed_report_is_kept_with_its_reason_audited_and_shown(gateway: Gateway) -> None:
    conv, mid = await _sent_answer(gateway)
    events: list[dict[str, Any]] = []
    seen = asyncio.Event()

    async def on_event(event: Any) -> None:
        if event.payload.get("kind") == "delivery" and event.payload.get("delivery") == "failed":
            events.append(event.payload)
            seen.set()

    sub = await gateway.pipeline.broker.fanout("conversation", on_event)
    try:
        gus = await gateway.user("gus")
        await gateway.pipeline.staff.claim(conv, gus)
        await gateway.pipeline.staff.close(conv, gus, reason="klart")  # closed: still recorded
        await gateway.pipeline.ingress(_report("memory", mid, "failed", "absent subscriber"), "")
        m = await _message(gateway, mid)
        assert m.delivery == "failed"
        assert m.meta["delivery_detail"] == {"error": "absent subscriber", "failure": "not_delivered"}
        await asyncio.wait_for(seen.wait(), 5)
        assert events[0]["message_id"] == mid and events[0]["detail"]["error"] == "absent subscriber"
    finally:
        await sub.cancel()
    async with gateway.db.session() as session:
        audited = (
            (await session.execute(select(AuditEvent).where(AuditEvent.action == "message.delivery_failed")))
            .scalars()
            .all()
        )
    assert [(a.conversation_id, a.details) for a in audited] == [(conv, {"message_id": mid})]


async def test_delivered_wins(gateway: Gateway) -> None:
    _, mid = await _sent_answer(gateway)
    await gateway.pipeline.ingress(_report("memory", mid, "delivered"), "")
    await gateway.pipeline.ingress(_report("memory", mid, "failed", "late"), "")
    m = await _message(gateway, mid)
    assert m.delivery == "delivered" and m.delivered_at is not None
    assert "error" not in (m.meta.get("delivery_detail") or {})


async def test_a_report_on_no_outgoing_message_of_the_channel_is_refused(gateway: Gateway) -> None:
    _, mid = await _sent_answer(gateway)
    async with gateway.db.session() as session:
        incoming = (await session.execute(select(Message.id).where(Message.direction == "in"))).scalar_one()
    for envelope, why in [
        (_report("sms", mid, "failed"), "no such outgoing message"),  # another channel's message
        (_report("memory", incoming, "failed"), "no such outgoing message"),
        (_report("memory", "f" * 32, "failed"), "no such outgoing message"),
        (_report("memory", mid, "lost"), "unknown delivery status 'lost'"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            await gateway.pipeline.ingress(envelope, "")
        assert refused.value.reason == why
    assert (await _message(gateway, mid)).delivery == "sent"


async def test_receipts_of_several_conversations_are_stored_together_and_only_on_their_own(
    gateway: Gateway,
) -> None:
    """The person's receipts (web chat's ``seen``) are stored in one statement for every
    conversation at once; a receipt names a message of its own conversation or changes nothing."""
    conv_a, answer_a = await _sent_answer(gateway)
    conv_b = str((await gateway.memory.person_writes("q", "min syster pratar om våld")).conversation_id)
    async with gateway.db.session() as session:
        answer_b = (
            await session.execute(
                select(Message.id).where(Message.conversation_id == conv_b, Message.direction == "out")
            )
        ).scalar_one()
    controls = gateway.pipeline.controls

    async def seen(address: str, conv: str, message_id: str) -> None:
        await gateway.memory.person_writes(
            address,
            "",
            meta={"control": CONTROL_DELIVERED, "message_id": message_id},
            conversation_hint=ConversationId(conv),
        )

    await seen("q", conv_b, answer_a)  # another conversation's message: nothing changes
    await controls.store_receipts()
    assert (await _message(gateway, answer_a)).delivery == "sent"
    await seen("p", conv_a, answer_a)
    await seen("q", conv_b, answer_b)
    await controls.store_receipts()
    assert (await _message(gateway, answer_a)).delivery == "delivered"
    assert (await _message(gateway, answer_b)).delivery == "delivered"
    assert (await _message(gateway, answer_b)).delivered_at is not None


async def test_a_persons_signals_share_one_read_and_the_end_is_never_taken_for_open(
    gateway: Gateway,
) -> None:
    """Typing and receipts come every few seconds from each person: the signals of the next
    ``PEEK_SECONDS`` are published from one read of the conversation.  The person's end is stored
    with a read of its own, and after it a signal is refused as before."""
    conv = str((await gateway.memory.person_writes("p", "jag oroar mig för min bror")).conversation_id)
    reads: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        # The reads of the person's open conversation (by their pseudonym), not egress's of the
        # bot's answer, which may run meanwhile.
        if statement.lstrip().upper().startswith("SELECT") and "conversations.pseudonym =" in statement:
            reads.append(statement)

    engine = gateway.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        for control in (CONTROL_TYPING, CONTROL_PAUSED, CONTROL_TYPING):
            typed = await gateway.memory.person_writes(
                "p", "", meta={"control": control}, conversation_hint=ConversationId(conv)
            )
            assert str(typed.conversation_id) == conv
        assert len(reads) == 1
    finally:
        event.remove(engine, "before_cursor_execute", before)
    await gateway.memory.person_writes("p", "", meta={"control": CONTROL_END})
    with pytest.raises(InvalidInput):
        await gateway.memory.person_writes("p", "", meta={"control": CONTROL_TYPING})


async def test_a_signal_that_names_only_its_sender_finds_the_conversation_that_replaced_the_last(
    gateway: Gateway,
) -> None:
    """A channel whose signals name only the sender (XMPP's chat states and receipts) means the
    sender's newest open conversation: a signal just after a new one began must find the new one,
    whatever the signals before it found (its receipt is stored on that conversation)."""
    first = str((await gateway.memory.person_writes("p", "jag oroar mig för min bror")).conversation_id)
    typed = await gateway.memory.person_writes("p", "", meta={"control": CONTROL_TYPING})
    assert str(typed.conversation_id) == first
    gus = await gateway.user("gus")
    await gateway.pipeline.staff.claim(first, gus)
    await gateway.pipeline.staff.close(first, gus, reason="klart")
    second = str((await gateway.memory.person_writes("p", "hej igen, det har hänt mer")).conversation_id)
    assert second != first
    typed = await gateway.memory.person_writes("p", "", meta={"control": CONTROL_TYPING})
    assert str(typed.conversation_id) == second
