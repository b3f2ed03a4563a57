"""Egress (gateway/egress.py): what a channel answers when a counsellor's reply is sent."""

from __future__ import annotations

import asyncio

import pytest

from gateway.store import repo
from tests.gateway.conftest import Gateway


async def test_a_person_who_blocked_the_channel_marks_the_conversation_unreachable(gateway: Gateway) -> None:
    conv = (await gateway.memory.person_writes("gone", "orolig förälder")).conversation_id
    gateway.memory.blocked.add("gone")
    gus = await gateway.user("gus")
    await gateway.pipeline.staff.claim(conv, gus)
    await gateway.pipeline.staff.reply(conv, "Är du kvar?", gus)
    for _ in range(100):
        async with gateway.db.session() as session:
            if (await repo.get_conversation(session, conv)).unreachable:
                return
        await asyncio.sleep(0.05)
    pytest.fail("conversation was not marked unreachable")
