"""The XMPP channel against a real Prosody server, with a second client as the person."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slixmpp import JID

from bots.xmpp.adapter import XmppAdapter
from gateway.catalogues import section
from gateway.channel import AdapterState, DeliveryStatus
from gateway.envelope import (
    ConversationId,
    Direction,
    Envelope,
    Pseudonym,
    SenderKind,
    new_message_id,
    pseudonymize,
)
from gateway.errors import ConfigError, StoreUnavailable, TransientChannelError
from tests.bots.xmpp.xmpp_support import PSEUDONYM_KEY, Account, Person, Prosody, RecordingIngress

SV = section("person", "sv", "xmpp.")
AR = section("person", "ar", "xmpp.")
SO = section("person", "so", "xmpp.")


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


@pytest.fixture
async def gateway(
    prosody: Prosody, gateway_account: Account, ingress: RecordingIngress
) -> AsyncIterator[XmppAdapter]:
    adapter = XmppAdapter(
        prosody.adapter_config(gateway_account.jid, gateway_account.password, max_chars=200), PSEUDONYM_KEY
    )
    await adapter.start(ingress)
    assert await adapter.wait_connected(10), adapter.health()
    try:
        yield adapter
    finally:
        await adapter.stop()


async def no_message(person: Person, wait: float = 0.5) -> None:
    with pytest.raises(TimeoutError):
        msg = await person.next_message(wait)
        raise AssertionError(f"unexpected message: {msg['body']!r}")


async def test_message_reaches_ingress_pseudonymous_and_is_receipted_after_storing(
    gateway: XmppAdapter, person: Person, ingress: RecordingIngress, gateway_account: Account
) -> None:
    stanza_id = person.say(gateway_account.jid, "Hej, min bror har börjat prata om våld.")
    env, address = await ingress.next()

    assert env.text == "Hej, min bror har börjat prata om våld."
    assert env.channel == "xmpp" and env.direction is Direction.IN
    assert env.sender == pseudonymize(PSEUDONYM_KEY, "xmpp", person.account.jid)
    assert address == person.account.jid  # bare: the resource is not kept
    assert person.account.jid not in env.to_json() and "phone" not in env.to_json()
    assert env.external_id is not None and env.external_id.endswith(stanza_id)
    # The receipt the person asked for comes once ingress has returned.
    assert await asyncio.wait_for(person.receipts.get(), 5) == stanza_id


async def test_same_stanza_id_from_two_people_are_two_messages(
    prosody: Prosody,
    gateway: XmppAdapter,
    person: Person,
    ingress: RecordingIngress,
    gateway_account: Account,
) -> None:
    other = Person(prosody, Account(prosody.register("other", "pw"), "pw"))
    await other.connect()
    try:
        person.say(gateway_account.jid, "första", stanza_id="1")
        first, _ = await ingress.next()
        other.say(gateway_account.jid, "andra", stanza_id="1")
        second, _ = await ingress.next()
    finally:
        await other.close()
    assert first.external_id != second.external_id
    assert first.sender != second.sender


async def test_reply_reaches_the_person_and_their_receipt_comes_back(
    gateway: XmppAdapter, person: Person, ingress: RecordingIngress, gateway_account: Account
) -> None:
    envelope = reply("Tack för att du skriver. Jag heter Sara och är samtalsstödjare.")
    delivery = await gateway.send(envelope, person.account.jid)
    assert delivery.status is DeliveryStatus.SENT

    msg = await person.next_message()
    assert msg["body"] == envelope.text
    assert msg["from"].bare == gateway_account.jid
    assert msg["request_receipt"]
    person.ack(msg)
    control, _ = await ingress.next(control="delivered")
    assert control.meta["message_id"] == envelope.message_id
    assert control.sender == pseudonymize(PSEUDONYM_KEY, "xmpp", person.account.jid)


async def test_the_adapter_leaves_the_safe_response_to_the_pipelines_egress(
    gateway: XmppAdapter, person: Person, ingress: RecordingIngress, gateway_account: Account
) -> None:
    # The pipeline stores the safe response and delivers it through egress; sending the copy that
    # ingress returns as well would give the person the same answer twice.
    ingress.safe_response = "Tack för ditt meddelande. En samtalsstödjare svarar så snart som möjligt."
    person.say(gateway_account.jid, "Jag behöver prata med någon.")
    await ingress.next()
    with pytest.raises(TimeoutError):
        await person.next_message(timeout=1.0)


async def test_typing_both_ways(
    gateway: XmppAdapter, person: Person, ingress: RecordingIngress, gateway_account: Account
) -> None:
    person.chat_state(gateway_account.jid, "composing")
    typing, address = await ingress.next(control="typing")
    assert typing.text == "" and address == person.account.jid
    person.chat_state(gateway_account.jid, "paused")
    await ingress.next(control="paused")

    await gateway.notify(ConversationId("c1"), person.account.jid, "typing", {})
    assert await asyncio.wait_for(person.chat_states.get(), 5) == "composing"
    await gateway.send(reply("Jag förstår."), person.account.jid)
    msg = await person.next_message()
    assert msg["chat_state"] == "active"  # the reply ends the counsellor's typing


async def test_assigned_and_closed_are_told_in_swedish(
    gateway: XmppAdapter, person: Person, gateway_account: Account
) -> None:
    await gateway.notify(ConversationId("c1"), person.account.jid, "assigned", {})
    assert (await person.next_message())["body"] == SV["assigned"]
    await gateway.notify(ConversationId("c1"), person.account.jid, "closed", {})
    closed = (await person.next_message())["body"]
    assert closed == SV["closed"] and "igen" in closed


async def test_disco_and_ping_are_answered(
    gateway: XmppAdapter, person: Person, gateway_account: Account
) -> None:
    full = JID(f"{gateway_account.jid}/helpline")
    info = await person.client.plugin["xep_0030"].get_info(jid=full, timeout=5)
    features = set(info["disco_info"]["features"])
    assert {
        "urn:xmpp:receipts",
        "http://jabber.org/protocol/chatstates",
        "urn:xmpp:ping",
        "http://jabber.org/protocol/disco#info",
    } <= features
    assert ("client", "bot") in {(i[0], i[1]) for i in info["disco_info"]["identities"]}
    rtt = await person.client.plugin["xep_0199"].ping(jid=full, timeout=5)
    assert rtt >= 0


async def test_subscription_is_accepted_and_returned(
    gateway: XmppAdapter, person: Person, gateway_account: Account
) -> None:
    person.client.send_presence_subscription(pto=gateway_account.jid)
    seen: set[tuple[str, str]] = set()
    while not {("subscribed", gateway_account.jid), ("subscribe", gateway_account.jid)} <= seen:
        seen.add(await asyncio.wait_for(person.presences.get(), 5))
    person.client.client_roster[gateway_account.jid].authorize()  # the person accepts in turn
    for _ in range(50):
        if person.client.client_roster[gateway_account.jid]["subscription"] == "both":
            break
        await asyncio.sleep(0.1)
    assert person.client.client_roster[gateway_account.jid]["subscription"] == "both"


async def test_bad_input_is_answered_and_the_adapter_goes_on(
    gateway: XmppAdapter, person: Person, ingress: RecordingIngress, gateway_account: Account
) -> None:
    to = gateway_account.jid
    person.say(to, "   ")
    assert (await person.next_message())["body"] == SV["empty"]
    person.client.send_raw(f"<message to='{to}' type='chat' id='e1'><body/></message>")
    assert (await person.next_message())["body"] == SV["empty"]
    person.say(to, "x" * 201)
    too_long = (await person.next_message())["body"]
    assert too_long == SV["too_long"].format(max_chars=200)
    person.client.send_raw(
        f"<message to='{to}' type='chat' id='oob1'><body>https://upload.example/bild.jpg</body>"
        "<x xmlns='jabber:x:oob'><url>https://upload.example/bild.jpg</url></x></message>"
    )
    assert (await person.next_message())["body"] == SV["only_text"]
    # Stanzas the adapter cannot use: unknown payloads, no body, a bare receipt without id, groupchat.
    person.client.send_raw(
        f"<message to='{to}' type='chat'><unknown xmlns='urn:example:x'><a/></unknown></message>"
    )
    person.client.send_raw(f"<message to='{to}' type='chat'><received xmlns='urn:xmpp:receipts'/></message>")
    person.client.send_raw(f"<message to='{to}' type='groupchat'><body>gruppmeddelande</body></message>")
    person.client.send_raw(f"<message to='{to}' type='headline'><body>rubrik</body></message>")
    person.client.send_raw(
        f"<iq to='{to}/helpline' type='get' id='q1'><query xmlns='urn:example:unknown'/></iq>"
    )

    # Our own account writing from another resource is an echo, not a person.
    echo = Person(person.server, gateway_account, resource="desktop")
    await echo.connect()
    try:
        echo.say(f"{to}/helpline", "eget eko")
        await asyncio.sleep(0.3)
    finally:
        await echo.close()

    person.say(to, "Är ni kvar?")
    env, _ = await ingress.next()
    assert env.text == "Är ni kvar?"
    assert [e.text for e, _ in ingress.received if not e.meta.get("control")] == ["Är ni kvar?"]
    assert gateway.state() is AdapterState.CONNECTED


async def test_automatic_answers_are_in_the_persons_language(
    gateway: XmppAdapter, person: Person, ingress: RecordingIngress, gateway_account: Account
) -> None:
    to = gateway_account.jid
    # Nothing known of the person yet: the language of the message itself.
    person.say(to, "أخي يتحدث عن العنف كل يوم وأنا خائف عليه. " * 6)
    assert (await person.next_message())["body"] == AR["too_long"].format(max_chars=200)
    person.say(to, "Walaalkay wuxuu had iyo jeer ka hadlaa rabshad, waan ka welwelsanahay. " * 3)
    assert (await person.next_message())["body"] == SO["too_long"].format(max_chars=200)
    ingress.failure, ingress.fail_times = StoreUnavailable("database down"), 3
    person.say(to, "هل يمكنني التحدث مع أحد؟")
    assert (await person.next_message())["body"] == AR["not_received"]

    # The conversation is in Arabic (ingress says so): a message that says nothing of its
    # language is answered in Arabic, and so are the notices.
    ingress.language = "ar"
    person.say(to, "مرحبا")
    await ingress.next()
    person.say(to, "   ")
    assert (await person.next_message())["body"] == AR["empty"]
    person.say(to, "x" * 201)
    assert (await person.next_message())["body"] == AR["too_long"].format(max_chars=200)
    person.client.send_raw(
        f"<message to='{to}' type='chat' id='oob-ar'><body>https://upload.example/a.jpg</body>"
        "<x xmlns='jabber:x:oob'><url>https://upload.example/a.jpg</url></x></message>"
    )
    assert (await person.next_message())["body"] == AR["only_text"]
    await gateway.notify(ConversationId("c1"), person.account.jid, "queue", {"position": 2, "language": "ar"})
    queue_line = (await person.next_message())["body"]
    assert queue_line == AR["queue"].format(position=2) and "2" in queue_line
    # A conversation that moved to Somali (a notice names it) is answered in Somali.
    await gateway.notify(ConversationId("c1"), person.account.jid, "assigned", {"language": "so"})
    assert (await person.next_message())["body"] == SO["assigned"]
    person.say(to, "   ")
    assert (await person.next_message())["body"] == SO["empty"]
    assert len({AR["empty"], SO["empty"], SV["empty"]}) == 3  # three languages, three texts


async def test_unstored_message_is_not_receipted_and_the_person_is_asked_to_resend(
    gateway: XmppAdapter, person: Person, ingress: RecordingIngress, gateway_account: Account
) -> None:
    ingress.failure = StoreUnavailable("database down")
    ingress.fail_times = 10
    person.say(gateway_account.jid, "Hallå?")
    assert (await person.next_message())["body"] == SV["not_received"]
    assert person.receipts.empty()
    assert ingress.calls == 3  # retried, then given up

    ingress.fail_times = 0
    stanza_id = person.say(gateway_account.jid, "Hallå igen")
    await ingress.next()
    assert await asyncio.wait_for(person.receipts.get(), 5) == stanza_id


async def test_a_transient_store_failure_is_retried_without_bothering_the_person(
    gateway: XmppAdapter, person: Person, ingress: RecordingIngress, gateway_account: Account
) -> None:
    ingress.failure = StoreUnavailable("database restarting")
    ingress.fail_times = 1
    stanza_id = person.say(gateway_account.jid, "Hej")
    env, _ = await ingress.next()
    assert env.text == "Hej"
    assert await asyncio.wait_for(person.receipts.get(), 5) == stanza_id
    await no_message(person, 0.3)


async def test_nothing_identifying_is_logged(
    gateway: XmppAdapter,
    person: Person,
    ingress: RecordingIngress,
    gateway_account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    person.say(gateway_account.jid, "Hemligt innehåll 4711")
    await ingress.next()
    await gateway.send(reply("Svar med innehåll 0815"), person.account.jid)
    await person.next_message()
    person.say(gateway_account.jid, "   ")
    await person.next_message()
    text = caplog.text
    assert "4711" not in text and "0815" not in text
    assert person.account.jid not in text and person.account.jid.split("@")[0] not in text


async def test_bad_credentials_are_reported(prosody: Prosody, gateway_account: Account) -> None:
    adapter = XmppAdapter(prosody.adapter_config(gateway_account.jid, "wrong-password"), PSEUDONYM_KEY)
    await adapter.start(RecordingIngress())
    try:
        for _ in range(100):
            if adapter.state() is AdapterState.BAD_CREDENTIALS:
                break
            await asyncio.sleep(0.1)
        assert adapter.state() is AdapterState.BAD_CREDENTIALS
        with pytest.raises(TransientChannelError):
            await adapter.send(reply("x"), "someone@helpline.test")
    finally:
        await adapter.stop()


async def test_send_without_a_connection_raises_instead_of_reporting_sent(gateway_account: Account) -> None:
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    config: dict[str, Any] = {
        "jid": gateway_account.jid,
        "password": gateway_account.password,
        "host": "127.0.0.1",
        "port": dead_port,
        "plaintext": True,
        "send_wait": 0.5,
        "reconnect_initial": 0.1,
        "reconnect_max": 0.5,
    }
    adapter = XmppAdapter(config, PSEUDONYM_KEY)
    await adapter.start(RecordingIngress())
    try:
        with pytest.raises(TransientChannelError):
            await adapter.send(reply("Hej"), "someone@helpline.test")
        assert adapter.state() in (AdapterState.CONNECTING, AdapterState.TRANSIENT_ERROR)
    finally:
        await adapter.stop()
    assert adapter.state() is AdapterState.STOPPED


def test_configuration_is_checked() -> None:
    assert XmppAdapter.sends_from_any_process is False
    ok = XmppAdapter({"jid": "gw@helpline.test", "password": "p"}, PSEUDONYM_KEY)
    assert ok.needs_lease()
    with pytest.raises(ConfigError, match="password"):
        XmppAdapter({"jid": "gw@helpline.test"}, PSEUDONYM_KEY)
    with pytest.raises(ConfigError, match="jid"):
        XmppAdapter({"jid": "helpline.test", "password": "p"}, PSEUDONYM_KEY)
    with pytest.raises(ConfigError, match="port"):
        XmppAdapter({"jid": "gw@helpline.test", "password": "p", "port": "5222"}, PSEUDONYM_KEY)


async def test_messages_written_while_the_adapter_was_stopped_arrive_after_start(
    prosody: Prosody, gateway_account: Account, person: Person, ingress: RecordingIngress
) -> None:
    """Failover: the lease moves, the adapter stops and starts; what came meanwhile is not lost."""
    adapter = XmppAdapter(
        prosody.adapter_config(gateway_account.jid, gateway_account.password), PSEUDONYM_KEY
    )
    await adapter.start(ingress)
    try:
        assert await adapter.wait_connected(10)
        await adapter.stop()
        assert adapter.state() is AdapterState.STOPPED
        stanza_id = person.say(gateway_account.jid, "Skrivet medan ingen var inloggad.")
        await asyncio.sleep(0.3)
        assert ingress.received == []
        await adapter.start(ingress)
        env, _ = await ingress.next()
        assert env.text == "Skrivet medan ingen var inloggad."
        assert await asyncio.wait_for(person.receipts.get(), 5) == stanza_id
    finally:
        await adapter.stop()
