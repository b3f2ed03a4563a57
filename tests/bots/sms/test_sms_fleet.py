"""The SMS channel on PostgreSQL (and Redis), through the real gateway: with the store away the
webhook answers 503 and the provider's redelivery is stored once when it is back; two gateways on
one PostgreSQL and one Redis send each answer once (the send claim and its lease), however the
deliveries race (tests of the package as a whole, against the local provider)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import asyncpg
from sqlalchemy import select

from gateway.appkeys import ADAPTERS
from gateway.store.models import Message
from tests.bots.sms.conftest import SmsGateway, free_port, sms_section
from tests.bots.sms.fake_provider import FakeProvider, deliver_until_taken, inbound, post
from tests.channels_e2e.conftest import eventually
from tests.conftest import PG_ADMIN_DSN
from tests.harness import make_settings, start

NUMBER = "+46701234567"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_store_away_503_and_the_redelivery_is_stored_once(pg_url: str, tmp_path: Path) -> None:
    provider = FakeProvider()
    await provider.start()
    port = free_port()
    settings = make_settings(
        pg_url, tmp_path, channels={"sms": sms_section(provider, port), "webchat": {"enabled": False}}
    )
    gw = await start(settings, serve="port", port=port)
    dbname = pg_url.rsplit("/", 1)[1]
    try:
        async with aiohttp.ClientSession() as http:
            sms = SmsGateway(gw, provider, http, port)
            body = inbound(NUMBER, "Min bror pratar om våld hela tiden.")
            await _admin(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
            await _admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{dbname}'")
            status, answer = await post(http, sms.inbound_url, body)
            assert status == 503 and answer["error"] == "unavailable"
            # The provider delivers it again until we take it; the store comes back meanwhile.
            redelivery = asyncio.create_task(deliver_until_taken(http, sms.inbound_url, body))
            await asyncio.sleep(1.0)
            await _admin(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
            statuses = await redelivery
            assert statuses[-1] == 200 and set(statuses[:-1]) <= {503}
            # Once more, as a provider that missed our 200 would: still one message.
            assert (await post(http, sms.inbound_url, body))[0] == 200
            stored = await sms.messages("in")
            assert [(m.text, m.external_id) for m in stored] == [(body["message"], body["id"])]
            await provider.wait_for(lambda: provider.texts(NUMBER) == ["SAFE:concern_relative"], timeout=20)
    finally:
        await _admin(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
        await gw.close()
        await provider.close()


async def test_two_gateways_send_each_answer_once(
    pg_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    provider = FakeProvider(delay=0.2, report=None)
    await provider.start()
    ports = [free_port(), free_port()]
    gateways = []
    try:
        for i, port in enumerate(ports):
            section = sms_section(provider, port, send_url=f"{provider.send_url}?via=g{i}")
            settings = make_settings(
                pg_url,
                tmp_path,  # one data directory: the same keys, as a fleet has
                channels={"sms": section, "webchat": {"enabled": False}},
                redis_url=redis_url,
                redis_prefix=redis_prefix,
            )
            gateways.append(await start(settings, serve="port", port=port))
        one, two = gateways
        async with aiohttp.ClientSession() as http:
            sms = SmsGateway(one, provider, http, ports[0])
            await sms.person_writes(NUMBER, "Min bror pratar om våld hela tiden.")
            (conv,) = await sms.conversations()
            counsellor = await one.user("sara")
            await one.pipeline.staff.claim(conv.id, counsellor)
            replies = [f"Svar nummer {n}." for n in range(12)]
            for n, text in enumerate(replies):
                written = await (one if n % 2 else two).pipeline.staff.reply(conv.id, text, counsellor)
                # While both gateways' egress consumers take its event, both deliver it at once
                # too (as a redelivered event and the sweeper would): three deliveries race.
                await asyncio.gather(
                    *(g.pipeline.egress.deliver(g.app[ADAPTERS]["sms"], written["id"]) for g in gateways)
                )

            async def all_sent() -> bool:
                async with one.db.session() as session:
                    states = (
                        (await session.execute(select(Message.delivery).where(Message.direction == "out")))
                        .scalars()
                        .all()
                    )
                return len(states) == 13 and all(s == "sent" for s in states)

            await eventually(all_sent, timeout=30)
            # Every delivery again, from both gateways at once, once all are sent: nothing more.
            async with one.db.session() as session:
                ids = (
                    (await session.execute(select(Message.id).where(Message.direction == "out")))
                    .scalars()
                    .all()
                )
            await asyncio.gather(
                *(g.pipeline.egress.deliver(g.app[ADAPTERS]["sms"], mid) for mid in ids for g in gateways)
            )
            texts = provider.texts(NUMBER)
            assert sorted(texts) == sorted(["SAFE:concern_relative", *replies])
            assert len(texts) == 13
    finally:
        for gw in gateways:
            await gw.close()
        await provider.close()
