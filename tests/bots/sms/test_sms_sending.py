"""Answers by SMS through the real gateway: 429 and 5xx from the send API tried again with
back-off (Retry-After honoured), another 4xx failed with its reason, a failed delivery report
shown to the counsellor, and the SMS an answer costs counted and shown in the console
(tests of the package as a whole, against the local provider)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from sqlalchemy import select

from gateway.store.models import AuditEvent, Message, StaffUser
from tests.bots.sms.conftest import SmsGateway, start_sms
from tests.bots.sms.fake_provider import FakeProvider
from tests.channels_e2e.conftest import eventually

NUMBER = "+46701234567"
SWEDISH = (
    "Hej! Det låter som att du har det tufft just nu. Vi finns här för dig och din familj. "
    "Berätta gärna mer om vad som har hänt, så försöker vi tillsammans hitta en väg framåt. "
    "Du är välkommen att skriva när du vill."
)  # 210 characters, all GSM-7: two SMS
ARABIC = "مرحبا، نحن هنا من أجلك. " * 4  # 96 characters, UCS-2: two SMS
EMOJI = "Tack 🙏 " * 10  # 70 UTF-16 units but one emoji is two units: two SMS


async def _claimed(sms: SmsGateway) -> tuple[str, StaffUser]:
    await sms.person_writes(NUMBER, "Min bror pratar om våld hela tiden.")
    await sms.provider.wait_for(lambda: len(sms.provider.texts(NUMBER)) == 1)
    (conv,) = await sms.conversations()
    counsellor = await sms.gw.user("sara", display_name="Sara")
    await sms.gw.pipeline.staff.claim(conv.id, counsellor)
    return conv.id, counsellor


async def _outcome(sms: SmsGateway, message_id: str, *states: str) -> Message:
    async def done() -> Message | None:
        async with sms.gw.db.session() as session:
            m = await session.get(Message, message_id)
            return m if m is not None and m.delivery in states else None

    return await eventually(done, timeout=20)  # type: ignore[no-any-return]


async def test_429_and_5xx_are_tried_again_after_retry_after_and_sent_once(sms: SmsGateway) -> None:
    conv_id, counsellor = await _claimed(sms)
    sms.provider.script = [(429, {"Retry-After": "1"}), (500, {}), (503, {"Retry-After": "1"})]
    written = await sms.gw.pipeline.staff.reply(conv_id, "Vi hörs snart igen.", counsellor)
    await _outcome(sms, written["id"], "delivered")
    tries = [r for r in sms.provider.requests if r.fields.get("message") == "Vi hörs snart igen."]
    assert [r.status for r in tries] == [429, 500, 503, 200]
    assert tries[1].time - tries[0].time >= 0.95  # Retry-After: 1 honoured
    assert tries[3].time - tries[2].time >= 0.95
    assert sms.provider.texts(NUMBER).count("Vi hörs snart igen.") == 1


async def test_a_refused_message_and_a_failed_delivery_are_shown_to_the_counsellor(
    sms: SmsGateway,
) -> None:
    conv_id, counsellor = await _claimed(sms)
    browser = sms.gw.browser()
    assert (await browser.login("sara")).status == 303
    # The provider refuses the message for good (400): failed at once, not tried again.
    sms.provider.script = [(400, {})]
    refused = await sms.gw.pipeline.staff.reply(conv_id, "Första svaret.", counsellor)
    refused_id = refused["id"]
    m = await _outcome(sms, refused_id, "failed")
    assert m.meta["delivery_detail"]["error"] == "the SMS provider refused the message (HTTP 400)"
    assert m.meta["delivery_detail"]["failure"] == "refused"
    assert [r.status for r in sms.provider.requests if r.fields.get("message") == "Första svaret."] == [400]

    # Accepted, but the operator could not deliver it: the provider's report says failed.
    sms.provider.report, sms.provider.report_reason = "failed", "absent subscriber"
    lost = await sms.gw.pipeline.staff.reply(conv_id, "Andra svaret.", counsellor)
    lost_id = lost["id"]
    m = await _outcome(sms, lost_id, "failed")
    assert m.meta["delivery_detail"] == {
        "segments": 1,
        "encoding": "gsm7",
        "error": "absent subscriber",
        "failure": "not_delivered",
    }
    async with sms.gw.db.session() as session:
        audited = (
            (await session.execute(select(AuditEvent).where(AuditEvent.action == "message.delivery_failed")))
            .scalars()
            .all()
        )
    assert [a.conversation_id for a in audited] == [conv_id]

    # The report comes before the send API's answer: the failure is kept, not overwritten by "sent".
    sms.provider.report_first, sms.provider.report_reason = True, f"unknown subscriber {NUMBER}"
    quick = await sms.gw.pipeline.staff.reply(conv_id, "Tredje svaret.", counsellor)
    m = await _outcome(sms, quick["id"], "failed", "sent")
    assert sms.provider.reports[-1] == 200
    await asyncio.sleep(0.3)  # anything still on its way
    m = await _outcome(sms, quick["id"], "failed", "sent")
    assert (m.delivery, m.meta["delivery_detail"]["error"]) == ("failed", "unknown subscriber [nummer]")
    assert m.meta["delivery_detail"]["segments"] == 1

    # The counsellor's transcript shows both as failed, with why.
    resp = await browser.get(f"/console/api/conversations/{conv_id}")
    assert resp.status == 200
    shown = {m["text"]: m for m in (await resp.json())["messages"]}
    assert shown["Första svaret."]["delivery"] == "failed"
    assert shown["Första svaret."]["delivery_detail"]["error"].startswith("the SMS provider refused")
    assert shown["Andra svaret."]["delivery"] == "failed"
    assert shown["Andra svaret."]["delivery_detail"]["error"] == "absent subscriber"


async def test_the_sms_an_answer_costs_are_counted_and_shown(sms: SmsGateway) -> None:
    conv_id, counsellor = await _claimed(sms)
    browser = sms.gw.browser()
    assert (await browser.login("sara")).status == 303
    for text in (SWEDISH, ARABIC, EMOJI):
        written = await sms.gw.pipeline.staff.reply(conv_id, text, counsellor)
        await _outcome(sms, written["id"], "delivered")
    # One concatenated message each to the provider (it splits them itself).
    assert sms.provider.texts(NUMBER)[1:] == [SWEDISH, ARABIC.strip(), EMOJI.strip()]
    resp = await browser.get(f"/console/api/conversations/{conv_id}")
    shown = {m["text"]: m.get("delivery_detail") for m in (await resp.json())["messages"]}
    assert shown[SWEDISH] == {"segments": 2, "encoding": "gsm7"}
    assert shown[ARABIC.strip()] == {"segments": 2, "encoding": "ucs2"}
    assert shown[EMOJI.strip()] == {"segments": 2, "encoding": "ucs2"}


async def test_parts_are_sent_one_by_one_when_the_provider_does_not_split(
    sqlite_url: str, tmp_path: Path
) -> None:
    provider = FakeProvider()
    await provider.start()
    gw, port = await start_sms(sqlite_url, tmp_path, provider, split="parts")
    try:
        async with aiohttp.ClientSession() as http:
            sms = SmsGateway(gw, provider, http, port)
            conv_id, counsellor = await _claimed(sms)
            written = await gw.pipeline.staff.reply(conv_id, SWEDISH, counsellor)
            m = await _outcome(sms, written["id"], "delivered")
            parts = provider.texts(NUMBER)[1:]
            assert len(parts) == 2 and "".join(parts) == SWEDISH
            assert all(len(p) <= 160 for p in parts) and parts[0].endswith(" ")  # cut after a word
            assert m.meta["delivery_detail"] == {"segments": 2, "encoding": "gsm7"}

            # The second part fails until the send gives up; tried again later, the first part
            # is not sent a second time.
            ok: tuple[int, dict[str, str]] = (200, {})
            provider.script = [ok, *[(500, {})] * 4]
            written = await gw.pipeline.staff.reply(conv_id, SWEDISH.upper(), counsellor)
            await _outcome(sms, written["id"], "delivered")
            again = provider.texts(NUMBER)[3:]
            assert len(again) == 2 and "".join(again) == SWEDISH.upper()
            assert [r.status for r in provider.requests if r.fields.get("message") == again[1]] == [
                500
            ] * 4 + [200]
    finally:
        await gw.close()
        await provider.close()
