"""Webhook registration and its secret, polling start-up, credentials, stop."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import ClientSession

from bots.telegram.adapter import SECRET_HEADER, WEBHOOK_PATH, TelegramAdapter
from gateway.channel import AdapterState
from gateway.errors import BadCredentials, ConfigError
from tests.bots.telegram.conftest import WEBHOOK_SECRET, Channel, RecordingIngress, make_adapter, wait_state
from tests.bots.telegram.fake_bot_api import FakeBotAPI


async def test_start_registers_webhook_with_secret_and_updates(api: FakeBotAPI, channel: Channel) -> None:
    if channel.mode != "webhook":
        assert api.webhook is None
        assert api.calls_of("deleteWebhook"), (
            "a poller removes any webhook first (else getUpdates is refused)"
        )
        assert channel.adapter.routes() == []
        return
    assert api.webhook is not None
    assert api.webhook["url"] == channel.adapter.config["webhook_url"]
    assert api.webhook["secret_token"] == WEBHOOK_SECRET
    assert set(api.webhook["allowed_updates"]) >= {"message", "edited_message"}
    assert not api.webhook["drop_pending_updates"]


@pytest.mark.parametrize("channel", ["webhook"], indirect=True)
async def test_webhook_refuses_calls_without_the_secret(channel: Channel, chat_id: int) -> None:
    url = channel.webhook_base.rstrip("/") + WEBHOOK_PATH
    body = json.dumps(channel.api.text_update(chat_id, "förfalskad"))
    for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: WEBHOOK_SECRET + "x"}, {SECRET_HEADER: ""}):
        async with channel.session.post(url, data=body, headers=headers) as resp:
            assert resp.status == 403
    async with channel.session.post(url, data=body, headers={SECRET_HEADER: WEBHOOK_SECRET}) as resp:
        assert resp.status == 200
    await channel.ingress.wait_for(1)
    assert len(channel.ingress.received) == 1


@pytest.mark.parametrize("channel", ["webhook"], indirect=True)
async def test_webhook_answers_only_after_ingress_returned(channel: Channel, chat_id: int) -> None:
    channel.ingress.gate = asyncio.Event()
    post = asyncio.create_task(channel.deliver(channel.api.text_update(chat_id, "vänta")))
    await asyncio.sleep(0.3)
    assert not post.done(), "Telegram must not get 200 before the message is stored"
    channel.ingress.gate.set()
    assert await post == 200
    assert len(channel.ingress.received) == 1


async def test_webhook_before_start_asks_telegram_to_retry(api: FakeBotAPI, chat_id: int) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    adapter = make_adapter(
        api, "webhook", webhook_url="https://example.invalid" + WEBHOOK_PATH, webhook_secret="abc"
    )
    app = web.Application()
    app.add_routes(adapter.routes())
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with ClientSession() as session:
            body = json.dumps(api.text_update(chat_id, "för tidigt"))
            async with session.post(
                server.make_url(WEBHOOK_PATH), data=body, headers={SECRET_HEADER: "abc"}
            ) as r:
                assert r.status == 503
    finally:
        await server.close()


async def test_bad_token_gives_bad_credentials(api: FakeBotAPI, ingress: RecordingIngress) -> None:
    adapter = make_adapter(api, "polling", token="123:wrong")
    await adapter.start(ingress)
    await wait_state(adapter, AdapterState.BAD_CREDENTIALS)
    assert "wrong" not in (adapter.last_error or "")
    await adapter.stop()


async def test_send_with_bad_token_raises_bad_credentials(api: FakeBotAPI) -> None:
    from gateway.envelope import Direction, Envelope, Pseudonym, new_message_id

    adapter = make_adapter(api, "polling", token="123:wrong")
    envelope = Envelope(new_message_id(), Direction.OUT, "telegram", Pseudonym("p"), "hej")
    with pytest.raises(BadCredentials) as info:
        await adapter.send(envelope, "42")
    assert "wrong" not in str(info.value)
    assert adapter.state() is AdapterState.BAD_CREDENTIALS
    await adapter.stop()


async def test_poller_recovers_when_the_api_is_down_for_a_while(
    api: FakeBotAPI, ingress: RecordingIngress, chat_id: int
) -> None:
    api.fail_next("getUpdates", 502, "Bad Gateway", times=2)
    adapter = make_adapter(api, "polling")
    await adapter.start(ingress)
    try:
        await wait_state(adapter, AdapterState.CONNECTED)
        await api.push_update(api.text_update(chat_id, "efter avbrottet"))
        await ingress.wait_for(1)
        assert len(api.calls_of("getUpdates")) >= 3
    finally:
        await adapter.stop()
    assert adapter.state() is AdapterState.STOPPED


async def test_polling_advances_offset_only_past_handled_updates(
    api: FakeBotAPI, ingress: RecordingIngress, chat_id: int
) -> None:
    adapter = make_adapter(api, "polling")
    first = api.text_update(chat_id, "ett")
    second = api.text_update(chat_id, "två")
    await api.push_update(first)
    await api.push_update(second)
    await adapter.start(ingress)
    try:
        await ingress.wait_for(2)
        await api.wait_for(
            lambda: any(c.params.get("offset") == second["update_id"] + 1 for c in api.calls_of("getUpdates"))
        )
    finally:
        await adapter.stop()
    # A new poller (another process after the lease moved) gets nothing twice from Telegram.
    assert api.updates == [] or all(u["update_id"] > second["update_id"] for u in api.updates)


async def test_stop_is_prompt_during_a_long_poll(api: FakeBotAPI, ingress: RecordingIngress) -> None:
    adapter = TelegramAdapter({"token": api.token, "base_url": api.base_url, "poll_timeout": 30}, b"k" * 32)
    await adapter.start(ingress)
    await wait_state(adapter, AdapterState.CONNECTED)
    await api.wait_for(lambda: api.calls_of("getUpdates"))
    loop = asyncio.get_running_loop()
    began = loop.time()
    await adapter.stop()
    assert loop.time() - began < 2
    assert adapter.state() is AdapterState.STOPPED


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({}, "token"),
        ({"token": "1:a", "mode": "push"}, "mode"),
        ({"token": "1:a", "mode": "webhook", "webhook_secret": "abc"}, "webhook_url"),
        ({"token": "1:a", "webhook_url": "https://x.example/channels/telegram/webhook"}, "webhook_secret"),
        (
            {"token": "1:a", "webhook_url": "https://x", "webhook_secret": "spaces are not allowed"},
            "webhook_secret",
        ),
        ({"token": "1:a", "poll_timeout": 500}, "poll_timeout"),
        ({"token": "1:a", "colour": "blue"}, "colour"),
    ],
)
def test_configuration_errors_name_the_key(config: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        TelegramAdapter(config, b"k" * 32)
    assert info.value.key.endswith(key)
