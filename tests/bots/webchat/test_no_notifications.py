"""The web chat shows the counsellor's typing and the conversation's state from the live events on
its socket: no notification is published for it, and egress reads no contact record for one (on
each typing signal it read and decrypted the person's address, to do nothing with it)."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

from sqlalchemy import event

from gateway.appkeys import BROKER
from gateway.broker.base import Event
from gateway.channel import shows_notifications
from gateway.events import notify_topic
from tests.bots.webchat.conftest import ChatGateway


def test_which_channels_show_notifications() -> None:
    for channel in ("telegram", "webchat", "xmpp"):
        importlib.import_module(f"bots.{channel}.adapter")  # registers the channel
    assert not shows_notifications("webchat")
    assert shows_notifications("telegram") and shows_notifications("xmpp")
    assert shows_notifications("a channel not registered here")


async def test_the_counsellor_types_and_closes_without_a_notification(chat: ChatGateway) -> None:
    told: list[dict[str, Any]] = []

    async def on_notify(ev: Event) -> None:
        told.append(ev.payload)

    await chat.app[BROKER].fanout(notify_topic("webchat"), on_notify)
    reads: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if "FROM contact_records" in statement:
            reads.append(statement)

    visitor = await chat.visitor()
    await visitor.hello()
    assert (await visitor.write("min bror pratar om våld hela tiden", "c1abcdefgh"))["type"] == "ack"
    conv = (await visitor.expect(lambda f: f["type"] == "welcome" and f["conversation_id"]))[
        "conversation_id"
    ]
    anna = await chat.user("anna")
    await chat.pipeline.staff.claim(conv, anna)
    event.listen(chat.db.engine.sync_engine, "before_cursor_execute", before)
    try:
        await chat.pipeline.staff.counsellor_typing(conv, anna, True)
        # The person sees it, from the live event on the socket.
        await visitor.expect(lambda f: f["type"] == "typing" and f["typing"] is True)
        await chat.pipeline.staff.counsellor_typing(conv, anna, False)
        await visitor.expect(lambda f: f["type"] == "typing" and f["typing"] is False)
        await chat.pipeline.staff.close(conv, anna)
        await visitor.expect(lambda f: f["type"] == "closed" or f.get("state") == "closed")
        await asyncio.sleep(0.3)  # what egress would consume has had its turn
    finally:
        event.remove(chat.db.engine.sync_engine, "before_cursor_execute", before)
    await visitor.close()
    assert told == []
    assert reads == []
