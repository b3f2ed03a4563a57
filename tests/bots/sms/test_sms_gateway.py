"""SMS in and out through the real gateway: a webhook call is answered only once the message is
stored, a redelivery is stored once, answers go out through the provider's send API with a
delivery report coming back, STOPP and HJÄLP, bad input refused clearly, the number kept only
encrypted (tests of the package as a whole, against the local provider)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import aiohttp
import pytest

from gateway.catalogues import text as catalogue_text
from gateway.store import repo
from gateway.store.models import Message
from tests.bots.sms.conftest import OUR_NUMBER, SmsGateway, start_sms
from tests.bots.sms.fake_provider import HMAC_SECRET, FakeProvider, inbound, post
from tests.channels_e2e.conftest import add_counsellor, dump_database, eventually

NUMBER = "+46701234567"
LOCAL = "070-123 45 67"  # the same number as a Swedish operator may write it


async def test_a_message_is_stored_before_it_is_acknowledged_and_answered_by_sms(
    sms: SmsGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = inbound(LOCAL, "Jag är orolig för min bror, han pratar om våld hela tiden.")
    status, answer = await post(sms.http, sms.inbound_url, body)
    assert (status, answer) == (200, {"ok": True})
    # Acknowledged: it is in the store already, not somewhere on the way.
    stored = await sms.messages("in")
    assert [(m.text, m.external_id) for m in stored] == [(body["message"], body["id"])]
    (conv,) = await sms.conversations()
    assert conv.state == "queued"

    # The triage's safe response goes out through the send API, to the number in E.164, from
    # our number, with the delivery report URL naming our message.
    await sms.provider.wait_for(lambda: sms.provider.texts(NUMBER) == ["SAFE:concern_relative"])
    (sent,) = sms.provider.sent(NUMBER)
    assert sent["from"] == OUR_NUMBER
    (out,) = await sms.messages("out")
    assert sent["whendelivered"].endswith(f"/channels/sms/report?ref={out.id}")

    # The provider's report comes back: the message is delivered, with the SMS it cost.
    async def delivered() -> Message | None:
        (m,) = await sms.messages("out")
        return m if m.delivery == "delivered" else None

    m = await eventually(delivered)
    assert m.meta["delivery_detail"] == {"segments": 1, "encoding": "gsm7"}
    assert sms.provider.reports == [200]

    # The provider delivers the same message again (it did not see our 200): stored once.
    assert (await post(sms.http, sms.inbound_url, body))[0] == 200
    assert len(await sms.messages("in")) == 1
    # The same person writes again, as JSON this time: the same conversation.
    status, _ = await post(sms.http, sms.inbound_url, inbound(NUMBER, "Är någon där?"), as_json=True)
    assert status == 200
    assert [m.conversation_id for m in await sms.messages("in")] == [conv.id, conv.id]

    # The number is kept only encrypted, in the contact record, in E.164; nowhere else.
    async with sms.gw.db.session() as session:
        assert await repo.get_contact(session, sms.gw.pipeline.cipher, conv.id) == NUMBER
    dump = await dump_database(sms.gw.db)
    for form in ("701234567", "70-123", "123 45 67"):
        assert form not in dump
        assert form not in caplog.text


async def test_a_counsellors_reply_reaches_the_number(sms: SmsGateway) -> None:
    await sms.person_writes(NUMBER, "Hej, jag vill prata med någon om min son.")
    (conv,) = await sms.conversations()
    counsellor = await add_counsellor(sms.gw.db)
    await sms.gw.pipeline.staff.claim(conv.id, counsellor)
    answer = "Hej! Jag heter Sara. Berätta gärna mer: vad är det som oroar dig?"
    await sms.gw.pipeline.staff.reply(conv.id, answer, counsellor)
    await sms.provider.wait_for(lambda: answer in sms.provider.texts(NUMBER))
    # No "a counsellor joined" or other notices by SMS: every SMS costs the person's attention.
    assert sms.provider.texts(NUMBER) == ["SAFE:concern_relative", answer]


@pytest.mark.parametrize("word", ["STOPP", " stopp ", "Stop"])
async def test_stopp_ends_the_conversation_and_the_number_gets_nothing_more_until_it_writes_again(
    sms: SmsGateway, word: str
) -> None:
    await sms.person_writes(NUMBER, "Min bror pratar om våld.")
    await sms.provider.wait_for(lambda: len(sms.provider.texts(NUMBER)) == 1)
    (conv,) = await sms.conversations()

    assert (await sms.person_writes(NUMBER, word))[0] == 200
    async with sms.gw.db.session() as session:
        ended = await repo.get_conversation(session, conv.id)
        assert ended.state == "closed" and ended.meta["closed_by"] == "person"
    # Stored as the person's message (the counsellor sees why it ended), without an answer.
    assert [m.text for m in await sms.messages("in")] == ["Min bror pratar om våld.", word]

    # Anything still sent to the conversation (a system message, a late reply) is not sent:
    # it is failed, with the reason the counsellor sees.
    written = await sms.gw.pipeline.outgoing.send(conv.id, "Tack för att du hörde av dig.")

    async def failed() -> Message | None:
        async with sms.gw.db.session() as session:
            m = await session.get(Message, written.id)
            return m if m is not None and m.delivery == "failed" else None

    m = await eventually(failed)
    assert m.meta["delivery_detail"] == {"error": "the person sent STOPP", "failure": "stopped"}
    assert len(sms.provider.texts(NUMBER)) == 1

    # The number writes again: a new conversation, answered again.
    await sms.person_writes(NUMBER, "Jag ångrar mig, min bror pratar om våld igen.")
    await sms.provider.wait_for(lambda: len(sms.provider.texts(NUMBER)) == 2)
    assert len(await sms.conversations()) == 2


@pytest.mark.parametrize(
    ("word", "lang"), [("HJÄLP", "sv"), ("hjälp ", "sv"), ("help", "en"), ("مساعدة", "ar"), ("Caawimo", "so")]
)
async def test_hjalp_gets_the_services_short_description_and_opens_nothing(
    sms: SmsGateway, word: str, lang: str
) -> None:
    assert (await sms.person_writes(NUMBER, word))[0] == 200
    await sms.provider.wait_for(
        lambda: sms.provider.texts(NUMBER) == [catalogue_text("person", lang, "sms.help")]
    )
    assert await sms.conversations() == []
    assert await sms.messages() == []


async def test_help_is_answered_once_per_message_and_a_few_times_an_hour(sms: SmsGateway) -> None:
    first = inbound(NUMBER, "HJÄLP")
    for _ in range(2):  # the provider delivers the same message again
        assert (await post(sms.http, sms.inbound_url, first))[0] == 200
    for _ in range(4):  # and the number keeps asking
        assert (await sms.person_writes(NUMBER, "hjälp"))[0] == 200
    await sms.provider.wait_for(lambda: len(sms.provider.texts(NUMBER)) == 3)
    assert (await sms.person_writes("+46701234568", "hjälp"))[0] == 200  # another number
    await sms.provider.wait_for(lambda: len(sms.provider.texts("+46701234568")) == 1)
    assert len(sms.provider.texts(NUMBER)) == 3


async def test_bad_calls_get_a_clear_error_and_nothing_is_stored(
    sms: SmsGateway, caplog: pytest.LogCaptureFixture
) -> None:
    url = sms.inbound_url
    ok = inbound(NUMBER, "hej")
    assert (await post(sms.http, url, ok, password="wrong"))[0] == 401
    assert (await post(sms.http, url, ok, auth="none"))[0] == 401
    assert (await post(sms.http, url, ok, auth="hmac"))[0] == 401  # not the scheme configured
    cases = [
        ({**ok, "from": "ACME Bank"}, "the sender is not a phone number"),
        ({**ok, "from": "+4670"}, "the sender is not a possible phone number"),
        ({k: v for k, v in ok.items() if k != "id"}, "the field 'id' (message id) is missing or not text"),
        ({k: v for k, v in ok.items() if k != "from"}, "the field 'from' (sender) is missing or not text"),
        ({**ok, "message": "   "}, "the message has no text"),
    ]
    for body, reason in cases:
        assert await post(sms.http, url, body) == (422, {"error": "bad_request", "reason": reason})
    async with sms.http.post(
        url,
        data=b"{not json",
        headers={"Content-Type": "application/json", "Authorization": "Basic ZWxrczp3ZWJob29rLXBhc3MtNDU2"},
    ) as resp:
        assert resp.status == 422
        assert (await resp.json())["reason"] == "the body cannot be read as application/json"
    assert await sms.messages() == []
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_provider_that_signs_its_calls_and_names_its_fields_otherwise(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Twilio-like field names, JSON bodies, an HMAC signature with a timestamp."""
    provider = FakeProvider()
    await provider.start()
    gw, port = await start_sms(
        sqlite_url,
        tmp_path,
        provider,
        webhook_auth="hmac",
        webhook_secret=HMAC_SECRET,
        inbound_fields={"id": "MessageSid", "from": "From", "to": "To", "text": "Body", "time": ""},
    )
    try:
        async with aiohttp.ClientSession() as http:
            sms = SmsGateway(gw, provider, http, port)
            body = {
                "MessageSid": "SM0123",
                "From": "+46 70 123 45 67",
                "To": OUR_NUMBER,
                "Body": "Hej, jag är orolig för min son.",
            }
            # Unsigned, wrongly signed, or signed long ago: refused.
            assert (await post(http, sms.inbound_url, body, as_json=True))[0] == 401
            assert (await post(http, sms.inbound_url, body, as_json=True, auth="hmac", secret="x" * 30))[
                0
            ] == 401
            old = int(time.time()) - 600
            assert (await post(http, sms.inbound_url, body, as_json=True, auth="hmac", stamp=old))[0] == 401
            assert await sms.messages() == []
            # Signed now: taken.
            assert (await post(http, sms.inbound_url, body, as_json=True, auth="hmac"))[0] == 200
            (stored,) = await sms.messages("in")
            assert (stored.text, stored.external_id) == (body["Body"], "SM0123")
            await provider.wait_for(lambda: provider.texts(NUMBER) == ["SAFE:concern_relative"])
    finally:
        await gw.close()
        await provider.close()
