"""Messages from Telegram to the gateway, in webhook mode and in polling mode.

Each test runs twice (the ``channel`` fixture): once with updates POSTed to the adapter's webhook
route on a real aiohttp server, the way Telegram posts them, and once with the adapter long-polling
the Bot API stand-in.
"""

from __future__ import annotations

import asyncio
import json

from gateway.catalogues import section
from gateway.channel import CONTROL_END, AdapterState
from gateway.envelope import Direction, pseudonymize
from tests.bots.telegram.conftest import PSEUDONYM_KEY, Channel


async def test_text_in_under_pseudonym_without_profile_data(channel: Channel, chat_id: int) -> None:
    update = channel.api.text_update(
        chat_id,
        "Jag är orolig för min bror.",
        username="hemlig_anvandare",
        first_name="Karin",
        last_name="Lind",
    )
    assert await channel.deliver(update) == 200
    await channel.ingress.wait_for(1)

    envelope, address = channel.ingress.received[0]
    assert envelope.text == "Jag är orolig för min bror."
    assert envelope.direction is Direction.IN
    assert envelope.channel == "telegram"
    assert envelope.sender == pseudonymize(PSEUDONYM_KEY, "telegram", str(chat_id))
    assert address == str(chat_id)
    assert envelope.external_id == str(update["update_id"])
    stored = envelope.to_json()
    for secret in (str(chat_id), "hemlig_anvandare", "Karin", "Lind", "language_code", '"sv"'):
        assert secret not in stored
    assert channel.adapter.needs_lease() is (channel.mode == "polling")


async def test_same_person_same_pseudonym_other_person_other(channel: Channel, chat_id: int) -> None:
    await channel.deliver(channel.api.text_update(chat_id, "Hej"))
    await channel.deliver(channel.api.text_update(chat_id, "Är någon där?"))
    await channel.deliver(channel.api.text_update(chat_id + 1, "Hej från någon annan"))
    await channel.ingress.wait_for(3)
    senders = [e.sender for e in channel.ingress.envelopes]
    assert senders[0] == senders[1] != senders[2]


async def test_start_gives_welcome_in_swedish_and_reaches_no_one(channel: Channel, chat_id: int) -> None:
    await channel.deliver(channel.api.text_update(chat_id, "/start"))
    await channel.api.wait_for(lambda: channel.api.sent_to(chat_id))
    (welcome,) = channel.api.sent_to(chat_id)
    assert welcome == section("person", "sv", "telegram.")["welcome"]
    assert "anonym" in welcome and "/stopp" in welcome
    assert channel.ingress.received == []


async def test_start_in_english_for_english_clients(channel: Channel, chat_id: int) -> None:
    await channel.deliver(channel.api.text_update(chat_id, "/start", language_code="en-GB"))
    await channel.api.wait_for(lambda: channel.api.sent_to(chat_id))
    (welcome,) = channel.api.sent_to(chat_id)
    assert "anonymous" in welcome and "/stop" in welcome


async def test_start_in_the_apps_language_when_the_catalogue_has_it(channel: Channel, chat_id: int) -> None:
    """Issue 19: an Arabic or Somali app gets the welcome in Arabic or Somali; a language the line
    has no catalogue for gets English."""
    for offset, code in enumerate(("ar", "so-SO", "de")):
        await channel.deliver(channel.api.text_update(chat_id + offset, "/start", language_code=code))
    await channel.api.wait_for(lambda: all(channel.api.sent_to(chat_id + i) for i in range(3)))
    assert channel.api.sent_to(chat_id) == [section("person", "ar", "telegram.")["welcome"]]
    assert channel.api.sent_to(chat_id + 1) == [section("person", "so", "telegram.")["welcome"]]
    assert channel.api.sent_to(chat_id + 2) == [section("person", "en", "telegram.")["welcome"]]
    assert "112" in channel.api.sent_to(chat_id)[0]


async def test_help_command(channel: Channel, chat_id: int) -> None:
    await channel.deliver(channel.api.text_update(chat_id, "/hjalp@stodlinjen_test_bot"))
    await channel.deliver(channel.api.text_update(chat_id + 1, "/help", language_code="en"))
    await channel.api.wait_for(lambda: channel.api.sent_to(chat_id) and channel.api.sent_to(chat_id + 1))
    assert channel.api.sent_to(chat_id) == [section("person", "sv", "telegram.")["help"]]
    assert channel.api.sent_to(chat_id + 1) == [section("person", "en", "telegram.")["help"]]
    assert channel.ingress.received == []


async def test_stopp_sends_control_end_and_confirms(channel: Channel, chat_id: int) -> None:
    await channel.deliver(channel.api.text_update(chat_id, "Hej"))
    await channel.deliver(channel.api.text_update(chat_id, "/stopp"))
    await channel.ingress.wait_for(2)
    control = channel.ingress.envelopes[1]
    assert control.meta == {"control": CONTROL_END}
    assert control.sender == channel.ingress.envelopes[0].sender
    await channel.api.wait_for(lambda: channel.api.sent_to(chat_id))
    assert channel.api.sent_to(chat_id) == [section("person", "sv", "telegram.")["stopped"]]


async def test_stop_without_open_conversation_is_confirmed_and_not_retried(
    channel: Channel, chat_id: int
) -> None:
    # The pipeline refuses an "end" when nothing is open (InvalidInput): that must neither loop
    # (webhook 500 / offset stuck) nor leave the person without an answer.
    assert await channel.deliver(channel.api.text_update(chat_id, "/stop", language_code="en")) == 200
    await channel.api.wait_for(lambda: channel.api.sent_to(chat_id))
    assert channel.api.sent_to(chat_id) == [section("person", "en", "telegram.")["stopped"]]
    ((refused, _),) = channel.ingress.refused
    assert refused.meta["control"] == CONTROL_END
    await channel.deliver(channel.api.text_update(chat_id, "Hej igen"))
    await channel.ingress.wait_for(1)
    assert [e.text for e in channel.ingress.envelopes] == ["Hej igen"]
    assert channel.ingress.calls == 2  # the refused update was not handed over again


async def test_photo_is_answered_not_downloaded_not_stored(channel: Channel, chat_id: int) -> None:
    await channel.deliver(channel.api.photo_update(chat_id))
    await channel.api.wait_for(lambda: channel.api.sent_to(chat_id))
    assert channel.api.sent_to(chat_id) == [section("person", "sv", "telegram.")["only_text"]]
    assert channel.ingress.received == []
    assert channel.api.calls_of("getFile") == []
    assert channel.api.file_requests == []
    # The adapter goes on: the next text arrives.
    await channel.deliver(channel.api.text_update(chat_id, "Förlåt, jag skriver i stället."))
    await channel.ingress.wait_for(1)
    assert channel.ingress.envelopes[0].attachments == ()


async def test_photo_caption_is_handled_as_text(channel: Channel, chat_id: int) -> None:
    await channel.deliver(channel.api.photo_update(chat_id, caption="Det här skickade han till mig igår."))
    await channel.ingress.wait_for(1)
    envelope = channel.ingress.envelopes[0]
    assert envelope.text == "Det här skickade han till mig igår."
    assert envelope.attachments == ()
    assert "AgACAgQ" not in envelope.to_json()  # no file id either
    await channel.api.wait_for(lambda: channel.api.sent_to(chat_id))
    assert channel.api.sent_to(chat_id) == [section("person", "sv", "telegram.")["only_text_caption"]]
    assert channel.api.file_requests == []


async def test_voice_document_and_sticker_get_the_text_only_answer(channel: Channel, chat_id: int) -> None:
    api = channel.api
    await channel.deliver(api.voice_update(chat_id, language_code="en"))
    await channel.deliver(api.document_update(chat_id + 1, file_name="anna_svensson_id.pdf"))
    await channel.deliver(api.sticker_update(chat_id + 2))
    await api.wait_for(lambda: all(api.sent_to(c) for c in (chat_id, chat_id + 1, chat_id + 2)))
    assert api.sent_to(chat_id) == [section("person", "en", "telegram.")["only_text"]]
    assert api.sent_to(chat_id + 1) == [section("person", "sv", "telegram.")["only_text"]]
    assert api.sent_to(chat_id + 2) == [section("person", "sv", "telegram.")["only_text"]]
    assert channel.ingress.received == []
    assert api.file_requests == []


async def test_edited_message_is_new_text(channel: Channel, chat_id: int) -> None:
    await channel.deliver(channel.api.text_update(chat_id, "Han planerar något"))
    await channel.deliver(channel.api.text_update(chat_id, "Han planerar något på fredag", edited=True))
    await channel.ingress.wait_for(2)
    first, second = channel.ingress.envelopes
    assert second.text == "Han planerar något på fredag"
    assert second.external_id != first.external_id
    assert second.sender == first.sender


async def test_malformed_updates_do_not_stop_the_adapter(channel: Channel, chat_id: int) -> None:
    api = channel.api
    broken = [
        {"update_id": api.next_update_id(), "message": {"message_id": 1, "date": 0, "text": "ingen chatt"}},
        {"update_id": api.next_update_id(), "message": "not an object"},
        {"update_id": api.next_update_id(), "callback_query": {"id": "1", "data": "x"}},
        {
            "update_id": api.next_update_id(),
            "message": {"chat": {"id": "abc", "type": "private"}, "text": "x"},
        },
        {"update_id": api.next_update_id(), "message": {"chat": {"id": chat_id, "type": "private"}}},
    ]
    for update in broken:
        assert await channel.deliver(update) == 200  # usable JSON, but nothing to act on: no redelivery loop
    if channel.mode == "webhook":
        assert await channel.deliver(b"{this is not json") == 400
        assert await channel.deliver(b"[1, 2, 3]") == 200
    good = api.text_update(chat_id, "Nu fungerar det")
    await channel.deliver(good)
    await channel.ingress.wait_for(1)
    assert [e.text for e in channel.ingress.envelopes] == ["Nu fungerar det"]
    assert channel.adapter.state() is AdapterState.CONNECTED


async def test_group_messages_are_ignored(channel: Channel, chat_id: int) -> None:
    await channel.deliver(channel.api.text_update(-chat_id, "hej gruppen", chat_type="group"))
    await channel.deliver(channel.api.text_update(chat_id, "privat"))
    await channel.ingress.wait_for(1)
    assert [e.text for e in channel.ingress.envelopes] == ["privat"]
    assert channel.api.sent_to(-chat_id) == []


async def test_failed_ingress_means_redelivery_and_nothing_lost(channel: Channel, chat_id: int) -> None:
    channel.ingress.fail_times = 1
    update = channel.api.text_update(chat_id, "Viktigt meddelande")
    status = await channel.deliver(update)
    if channel.mode == "webhook":
        assert status == 500  # Telegram redelivers on non-2xx
        assert channel.ingress.received == []
        assert await channel.deliver(update) == 200
    # In polling mode the offset stayed put: getUpdates hands the update out again.
    await channel.ingress.wait_for(1, timeout=8)
    assert [e.text for e in channel.ingress.envelopes] == ["Viktigt meddelande"]
    assert channel.ingress.calls >= 2
    await channel.deliver(channel.api.text_update(chat_id, "och ett till"))
    await channel.ingress.wait_for(2, timeout=8)


async def test_redelivered_update_is_deduplicated_by_external_id(channel: Channel, chat_id: int) -> None:
    update = channel.api.photo_update(chat_id, caption="bildtext")
    await channel.deliver(update)
    await channel.ingress.wait_for(1)
    await channel.api.wait_for(lambda: channel.api.sent_to(chat_id))
    if channel.mode == "webhook":
        assert await channel.deliver(update) == 200
        await asyncio.sleep(0.2)
        assert len(channel.ingress.received) == 1
        assert channel.api.sent_to(chat_id) == [
            section("person", "sv", "telegram.")["only_text_caption"]
        ]  # not twice


def _logged(caplog_text: str, *secrets: str) -> list[str]:
    return [s for s in secrets if s in caplog_text]


async def test_nothing_identifying_is_logged(channel: Channel, chat_id: int, caplog: object) -> None:
    import logging

    import pytest

    assert isinstance(caplog, pytest.LogCaptureFixture)
    caplog.set_level(logging.DEBUG)
    api = channel.api
    await channel.deliver(api.text_update(chat_id, "Mitt hemliga meddelande", username="avslojande_namn"))
    await channel.deliver(api.photo_update(chat_id, caption="hemlig bildtext"))
    await channel.deliver(
        {"update_id": api.next_update_id(), "message": {"chat": {"id": chat_id}, "text": "trasig"}}
    )
    await channel.ingress.wait_for(2)
    await api.wait_for(lambda: api.sent_to(chat_id))
    from bots.telegram.adapter import TelegramAdapter
    from gateway.envelope import Envelope, new_message_id

    out = Envelope(
        new_message_id(), Direction.OUT, "telegram", channel.ingress.envelopes[0].sender, "Hemligt svar"
    )
    await channel.adapter.send(out, str(chat_id))
    assert isinstance(channel.adapter, TelegramAdapter)
    text = caplog.text + json.dumps([r.args for r in caplog.records], default=str)
    assert _logged(text, str(chat_id), "hemlig", "Hemligt", "avslojande_namn", "Anna", api.token) == []
