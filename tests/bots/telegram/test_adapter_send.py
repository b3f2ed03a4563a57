"""Messages from the gateway to the person: replies, long replies, flood limits, blocked users, events."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from bots.telegram.adapter import TelegramAdapter
from gateway.catalogues import section
from gateway.channel import AdapterState, DeliveryStatus
from gateway.envelope import ConversationId, Direction, Envelope, Pseudonym, SenderKind, new_message_id
from gateway.errors import TransientChannelError
from tests.bots.telegram.conftest import Channel, make_adapter
from tests.bots.telegram.fake_bot_api import FakeBotAPI, utf16_len


def outgoing(text: str) -> Envelope:
    return Envelope(
        new_message_id(),
        Direction.OUT,
        "telegram",
        Pseudonym("p" * 40),
        text,
        conversation_id=ConversationId("c1"),
        sender_kind=SenderKind.COUNSELLOR,
    )


@pytest.fixture
async def sender(api: FakeBotAPI) -> AsyncIterator[TelegramAdapter]:
    """An adapter that was never started: sending works in every process of a fleet."""
    adapter = make_adapter(api, "polling", backoff_initial=0.01)
    yield adapter
    await adapter.stop()


async def test_reply_out_after_message_in(channel: Channel, chat_id: int) -> None:
    await channel.deliver(channel.api.text_update(chat_id, "Hej, jag behöver prata"))
    await channel.ingress.wait_for(1)
    _, address = channel.ingress.received[0]
    delivery = await channel.adapter.send(outgoing("Hej! Jag heter Sara och är samtalsstödjare."), address)
    assert delivery.status is DeliveryStatus.SENT
    assert delivery.channel_message_id
    assert channel.api.sent_to(chat_id) == ["Hej! Jag heter Sara och är samtalsstödjare."]
    assert channel.api.sent[-1].get("parse_mode") is None  # counsellor text is never parsed as markup


async def test_long_reply_is_split_on_sentence_boundaries(
    sender: TelegramAdapter, api: FakeBotAPI, chat_id: int
) -> None:
    sentences = [
        f"Det här är mening nummer {i} i ett långt svar om hur vi kan hjälpa dig och din familj."
        for i in range(150)
    ]
    text = " ".join(sentences)
    assert len(text) > 3 * 4096
    delivery = await sender.send(outgoing(text), str(chat_id))
    assert delivery.status is DeliveryStatus.SENT
    parts = api.sent_to(chat_id)
    assert len(parts) == 4
    for part in parts:
        assert utf16_len(part) <= 4096
        assert part.endswith("familj.")
        assert part.startswith("Det här är mening nummer")
    assert " ".join(parts) == text  # nothing lost, nothing reordered


async def test_long_reply_retried_after_network_trouble_sends_no_part_twice(
    sender: TelegramAdapter, api: FakeBotAPI, chat_id: int
) -> None:
    text = " ".join(f"Mening {i} i ett svar som måste delas upp i flera meddelanden." for i in range(200))
    envelope = outgoing(text)
    api.fail_next("sendMessage", 502, "Bad Gateway", times=4, after=1)  # all 4 tries of part 2
    with pytest.raises(TransientChannelError):
        await sender.send(envelope, str(chat_id))
    assert len(api.sent_to(chat_id)) == 1
    delivery = await sender.send(envelope, str(chat_id))  # the pipeline's retry of the same message
    assert delivery.status is DeliveryStatus.SENT
    parts = api.sent_to(chat_id)
    assert len(parts) == 4 and " ".join(parts) == text


async def test_sentence_longer_than_the_limit_is_split_between_words(
    sender: TelegramAdapter, api: FakeBotAPI, chat_id: int
) -> None:
    text = "ord " * 3000 + "slut."
    await sender.send(outgoing(text), str(chat_id))
    parts = api.sent_to(chat_id)
    assert len(parts) == 3
    assert all(
        utf16_len(p) <= 4096 and not p.startswith(" ") and re.fullmatch(r"(ord )*(ord|slut\.)", p)
        for p in parts
    )


async def test_emoji_count_double_towards_the_limit(
    sender: TelegramAdapter, api: FakeBotAPI, chat_id: int
) -> None:
    text = "🙂" * 3000  # 3000 characters, 6000 UTF-16 units: Telegram refuses it in one message
    delivery = await sender.send(outgoing(text), str(chat_id))
    assert delivery.status is DeliveryStatus.SENT
    parts = api.sent_to(chat_id)
    assert len(parts) == 2 and "".join(parts) == text


async def test_flood_limit_retry_after_is_obeyed(
    sender: TelegramAdapter, api: FakeBotAPI, chat_id: int
) -> None:
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    loop = asyncio.get_running_loop()
    began = loop.time()
    delivery = await sender.send(outgoing("Tack för att du skrev."), str(chat_id))
    assert delivery.status is DeliveryStatus.SENT
    attempts = api.calls_of("sendMessage")
    assert len(attempts) == 2
    assert attempts[1].at - attempts[0].at >= 0.99
    assert loop.time() - began >= 0.99
    assert api.sent_to(chat_id) == ["Tack för att du skrev."]


async def test_flood_wait_too_long_is_handed_back_to_the_pipeline(api: FakeBotAPI, chat_id: int) -> None:
    adapter = make_adapter(api, "polling", max_retry_after=5)
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 35", retry_after=35)
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(TransientChannelError) as info:
        await adapter.send(outgoing("hej"), str(chat_id))
    assert info.value.retry_after == 35
    assert loop.time() - began < 1
    await adapter.stop()


async def test_blocked_user_is_unreachable(sender: TelegramAdapter, api: FakeBotAPI, chat_id: int) -> None:
    api.block(chat_id)
    delivery = await sender.send(outgoing("Hej igen"), str(chat_id))
    assert delivery.status is DeliveryStatus.UNREACHABLE
    assert delivery.detail == "blocked"
    assert api.sent_to(chat_id) == []
    assert len(api.calls_of("sendMessage")) == 1  # no pointless retries


async def test_unknown_chat_is_unreachable(sender: TelegramAdapter, api: FakeBotAPI) -> None:
    api.fail_next("sendMessage", 400, "Bad Request: chat not found")
    delivery = await sender.send(outgoing("Hej"), "777")
    assert delivery.status is DeliveryStatus.UNREACHABLE


async def test_network_trouble_is_retried_then_reported(
    sender: TelegramAdapter, api: FakeBotAPI, chat_id: int
) -> None:
    api.fail_next("sendMessage", 502, "Bad Gateway", times=2)
    delivery = await sender.send(outgoing("kommer fram till slut"), str(chat_id))
    assert delivery.status is DeliveryStatus.SENT
    assert len(api.calls_of("sendMessage")) == 3

    api.fail_next("sendMessage", 502, "Bad Gateway", times=10)
    with pytest.raises(TransientChannelError):
        await sender.send(outgoing("kommer inte fram"), str(chat_id))
    assert sender.state() is AdapterState.TRANSIENT_ERROR
    assert api.sent_to(chat_id) == ["kommer fram till slut"]


async def test_unreachable_api_server_is_transient(chat_id: int) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    adapter = TelegramAdapter(
        {"token": "1:a", "base_url": f"http://127.0.0.1:{port}/bot"},
        b"k" * 32,
        send_attempts=2,
        backoff_initial=0.01,
    )
    with pytest.raises(TransientChannelError):
        await adapter.send(outgoing("hej"), str(chat_id))
    await adapter.stop()


async def test_rejected_message_fails_without_retry(
    sender: TelegramAdapter, api: FakeBotAPI, chat_id: int
) -> None:
    delivery = await sender.send(outgoing("   "), str(chat_id))
    assert delivery.status is DeliveryStatus.FAILED
    delivery = await sender.send(outgoing("hej"), "not-a-chat-id")
    assert delivery.status is DeliveryStatus.FAILED
    api.fail_next("sendMessage", 400, "Bad Request: can't parse entities")
    delivery = await sender.send(outgoing("hej"), str(chat_id))
    assert delivery.status is DeliveryStatus.FAILED
    assert len(api.calls_of("sendMessage")) == 1


async def test_notify_assigned_typing_closed(sender: TelegramAdapter, api: FakeBotAPI, chat_id: int) -> None:
    conv = ConversationId("c1")
    await sender.notify(conv, str(chat_id), "assigned", {})
    await sender.notify(conv, str(chat_id), "typing", {})
    await sender.notify(conv, str(chat_id), "closed", {"language": "en"})
    await sender.notify(conv, str(chat_id), "something_else", {})
    assert api.sent_to(chat_id) == [
        section("person", "sv", "telegram.")["assigned"],
        section("person", "en", "telegram.")["closed"],
    ]
    (action,) = api.calls_of("sendChatAction")
    assert action.params == {"chat_id": chat_id, "action": "typing"}
    assert "skriva igen" in section("person", "sv", "telegram.")["closed"]


async def test_notify_blocked_user(sender: TelegramAdapter, api: FakeBotAPI, chat_id: int) -> None:
    api.block(chat_id)
    # Nothing to retry: no error (a broker would redeliver the event forever); send() reports it.
    await sender.notify(ConversationId("c1"), str(chat_id), "typing", {})
    await sender.notify(ConversationId("c1"), str(chat_id), "closed", {})
    assert api.sent_to(chat_id) == []
    assert len(api.calls_of("sendMessage")) == 1


async def test_notify_raises_transient_after_retries(
    sender: TelegramAdapter, api: FakeBotAPI, chat_id: int
) -> None:
    api.fail_next("sendMessage", 502, "Bad Gateway", times=4)
    with pytest.raises(TransientChannelError):
        await sender.notify(ConversationId("c1"), str(chat_id), "assigned", {})
