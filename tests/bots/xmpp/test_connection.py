"""Prosody restarted mid-conversation: the adapter reconnects by itself and the conversation goes on.

This module has a Prosody of its own (the ``prosody`` fixture is module-scoped), so restarting it
disturbs no other test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator

import pytest

from bots.xmpp.adapter import XmppAdapter
from gateway.channel import AdapterState, DeliveryStatus
from gateway.envelope import ConversationId, Direction, Envelope, Pseudonym, SenderKind, new_message_id
from gateway.errors import TransientChannelError
from tests.bots.xmpp.xmpp_support import PSEUDONYM_KEY, Account, Person, Prosody, RecordingIngress


def reply(text: str) -> Envelope:
    return Envelope(
        message_id=new_message_id(),
        direction=Direction.OUT,
        channel="xmpp",
        sender=Pseudonym("counsellor"),
        text=text,
        conversation_id=ConversationId("c1"),
        sender_kind=SenderKind.COUNSELLOR,
    )


class StateLog:
    """Watches the adapter's state() from outside and keeps every change."""

    def __init__(self, adapter: XmppAdapter) -> None:
        self.adapter = adapter
        self.seen: list[AdapterState] = [adapter.state()]
        self.task = asyncio.create_task(self._watch())

    def _look(self) -> AdapterState:
        state = self.adapter.state()
        if state != self.seen[-1]:
            self.seen.append(state)
        return state

    async def _watch(self) -> None:
        while True:
            self._look()
            await asyncio.sleep(0.005)

    async def wait_for(self, state: AdapterState, timeout: float = 15.0) -> None:
        async with asyncio.timeout(timeout):
            while self._look() is not state:
                await asyncio.sleep(0.005)

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@pytest.fixture
async def gateway(
    prosody: Prosody, gateway_account: Account, ingress: RecordingIngress
) -> AsyncIterator[XmppAdapter]:
    adapter = XmppAdapter(
        prosody.adapter_config(gateway_account.jid, gateway_account.password, send_wait=15.0, keepalive=5.0),
        PSEUDONYM_KEY,
    )
    await adapter.start(ingress)
    assert await adapter.wait_connected(10), adapter.health()
    try:
        yield adapter
    finally:
        await adapter.stop()


async def test_conversation_survives_a_server_restart(
    prosody: Prosody,
    gateway: XmppAdapter,
    person: Person,
    ingress: RecordingIngress,
    gateway_account: Account,
) -> None:
    states = StateLog(gateway)
    try:
        first_id = person.say(gateway_account.jid, "Jag är orolig för min kompis.")
        before, _ = await ingress.next()
        assert await asyncio.wait_for(person.receipts.get(), 5) == first_id
        await gateway.send(reply("Berätta gärna mer."), person.account.jid)
        assert (await person.next_message())["body"] == "Berätta gärna mer."

        await asyncio.to_thread(prosody.stop)
        await states.wait_for(AdapterState.TRANSIENT_ERROR)
        # A reply written while the server is down waits for the reconnection, then goes out.
        pending = asyncio.create_task(gateway.send(reply("Jag finns kvar här."), person.account.jid))
        await asyncio.sleep(0.5)
        assert not pending.done()
        await asyncio.to_thread(prosody.start)

        delivery = await asyncio.wait_for(pending, 15)
        assert delivery.status is DeliveryStatus.SENT
        await states.wait_for(AdapterState.CONNECTED)
        assert states.seen[0] is AdapterState.CONNECTED
        assert AdapterState.TRANSIENT_ERROR in states.seen[1:]
        assert states.seen[-1] is AdapterState.CONNECTED

        await person.connect()  # the person's client reconnects too
        assert (await person.next_message())["body"] == "Jag finns kvar här."
        stanza_id = person.say(gateway_account.jid, "Han har slutat svara mig.")
        after, address = await ingress.next()
        assert after.text == "Han har slutat svara mig."
        assert after.sender == before.sender and address == person.account.jid
        assert await asyncio.wait_for(person.receipts.get(), 5) == stanza_id

        await gateway.send(reply("Vad bra att du hör av dig igen."), person.account.jid)
        assert (await person.next_message())["body"] == "Vad bra att du hör av dig igen."
    finally:
        await states.close()


async def test_a_reply_that_cannot_be_written_is_not_reported_sent_nor_sent_later(
    prosody: Prosody,
    gateway_account: Account,
    person: Person,
    ingress: RecordingIngress,
) -> None:
    adapter = XmppAdapter(
        prosody.adapter_config(gateway_account.jid, gateway_account.password, send_wait=0.3), PSEUDONYM_KEY
    )
    await adapter.start(ingress)
    try:
        assert await adapter.wait_connected(10)
        await asyncio.to_thread(prosody.stop)
        with pytest.raises(TransientChannelError):
            await adapter.send(reply("Det här kom aldrig fram."), person.account.jid)
        await asyncio.to_thread(prosody.start)
        assert await adapter.wait_connected(15)
        await person.connect()
        # The caller retries, and the person gets the message exactly once.
        assert (
            await adapter.send(reply("Andra försöket."), person.account.jid)
        ).status is DeliveryStatus.SENT
        assert (await person.next_message())["body"] == "Andra försöket."
        with pytest.raises(TimeoutError):
            msg = await person.next_message(1.0)
            raise AssertionError(f"unexpected message: {msg['body']!r}")
    finally:
        await adapter.stop()


async def test_a_frozen_server_is_noticed_by_ping_and_the_adapter_reconnects(
    prosody: Prosody, gateway_account: Account, person: Person, ingress: RecordingIngress
) -> None:
    adapter = XmppAdapter(
        prosody.adapter_config(
            gateway_account.jid, gateway_account.password, keepalive=1.0, connect_timeout=2.0
        ),
        PSEUDONYM_KEY,
    )
    await adapter.start(ingress)
    states = StateLog(adapter)
    pid = prosody.pid
    assert pid is not None
    try:
        assert await adapter.wait_connected(10)
        os.kill(pid, signal.SIGSTOP)  # the server hangs without closing anything
        try:
            await states.wait_for(AdapterState.TRANSIENT_ERROR, timeout=10)
        finally:
            os.kill(pid, signal.SIGCONT)
            prosody.resume_runuser()
        await states.wait_for(AdapterState.CONNECTED, timeout=15)
        if not person.online.is_set():
            await person.connect()
        person.say(gateway_account.jid, "Hallå, fungerar det nu?")
        env, _ = await ingress.next()
        assert env.text == "Hallå, fungerar det nu?"
    finally:
        await states.close()
        await adapter.stop()
