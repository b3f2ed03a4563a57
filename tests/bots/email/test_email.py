"""The e-mail adapter against a real Dovecot (IMAP) and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bots.email import EmailAdapter
from bots.email_privacy import external_id as email_external_id
from gateway.channel import AdapterState, DeliveryStatus
from gateway.envelope import (
    ConversationId,
    Direction,
    Envelope,
    SenderKind,
    new_conversation_id,
    new_message_id,
    pseudonymize,
)
from gateway.errors import BadCredentials, TransientChannelError
from tests.bots.email.mailstore_ingress import SqliteIngress
from tests.bots.email.mailtest_support import (
    FROM_ADDRESS,
    PSEUDONYM_KEY,
    REPLY_DOMAIN,
    eventually,
    make_mail,
    read_mail,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


def xid(message_id: str) -> str:
    """The stored external id of a mail: the keyed hash of its Message-ID."""
    return email_external_id(PSEUDONYM_KEY, message_id)


@pytest.fixture
async def running() -> AsyncIterator[list[EmailAdapter]]:
    """Adapters started by a test are stopped at its end."""
    adapters: list[EmailAdapter] = []
    yield adapters
    for adapter in adapters:
        await adapter.stop()


async def start(running: list[EmailAdapter], config: dict[str, Any], ingress: Any) -> EmailAdapter:
    adapter = EmailAdapter(EmailAdapter.validate_config("email", config), pseudonym_key=PSEUDONYM_KEY)
    running.append(adapter)
    await adapter.start(ingress)
    await eventually(lambda: adapter.state() == AdapterState.CONNECTED, what="IMAP connection")
    return adapter


def outgoing(
    text: str,
    conversation_id: ConversationId,
    meta: dict[str, Any],
    kind: SenderKind = SenderKind.COUNSELLOR,
) -> Envelope:
    return Envelope(
        message_id=new_message_id(),
        direction=Direction.OUT,
        channel="email",
        sender=pseudonymize(PSEUDONYM_KEY, "staff", "counsellor-1"),
        text=text,
        conversation_id=conversation_id,
        sender_kind=kind,
        meta=meta,
    )


# ------------------------------------------------------------------------------------------------
# in


async def test_mail_reaches_ingress_then_is_marked_seen(
    mailbox: Any, ingress: SqliteIngress, running: Any
) -> None:
    raw, mid = make_mail(
        body="Hej,\nmin son har börjat prata om att åka utomlands för att strida.\n\n-- \nAnna\n070-123 45 67\n",
        attachment=("chatt.pdf", "application/pdf", b"%PDF-1.4 " + bytes(1000)),
    )
    mailbox.deliver(raw)
    assert "\\Seen" not in mailbox.flags()[mid]

    await start(running, mailbox.config(), ingress)
    await eventually(lambda: ingress.count() == 1, what="the mail to be stored")
    flags = await mailbox.wait_flag(mid)
    assert "\\Seen" in flags

    [stored] = ingress.stored()
    env = stored.envelope
    assert env.channel == "email"
    assert env.direction == Direction.IN
    assert env.external_id == xid(mid)  # a keyed hash: Message-IDs often name the sender
    assert env.sender == pseudonymize(PSEUDONYM_KEY, "email", "anna.svensson@example.se")
    assert env.text == "Hej,\nmin son har börjat prata om att åka utomlands för att strida."
    assert "070-123 45 67" in env.meta["full_text"]
    assert [a.to_dict() for a in env.attachments] == [
        {"name": "chatt.pdf", "content_type": "application/pdf", "size": 1009}
    ]
    assert env.meta["subject"] == "Oro för min son"
    assert env.meta["reply_in_reply_to"] == mid
    assert "suppress_auto_reply" not in env.meta
    # the address is the contact record only; the envelope knows the pseudonym
    assert stored.address == "anna.svensson@example.se"
    lowered = stored.raw_json.lower()
    assert "anna.svensson@example.se" not in lowered
    assert "83.250.11.7" not in lowered and "bredband" not in lowered


async def test_idle_picks_up_new_mail_at_once(mailbox: Any, ingress: SqliteIngress, running: Any) -> None:
    adapter = await start(running, mailbox.config(poll_interval=120.0), ingress)
    assert adapter.health()["mode"] == "idle"
    await asyncio.sleep(0.3)  # the reader is now waiting in IDLE
    raw, mid = make_mail(body="Ett nytt mejl medan läsaren väntar.")
    started = time.monotonic()
    mailbox.deliver(raw)
    await mailbox.wait_flag(mid, timeout=10)
    assert time.monotonic() - started < 10  # far below the 120 s poll interval: IDLE woke it
    assert ingress.count(xid(mid)) == 1


async def test_polling_when_server_lacks_idle(
    dovecot_noidle: Any, ingress: SqliteIngress, running: Any
) -> None:
    box = dovecot_noidle.new_mailbox()
    adapter = await start(running, box.config(poll_interval=0.3), ingress)
    assert adapter.health()["mode"] == "poll"
    raw, mid = make_mail(body="Via polling.")
    box.deliver(raw)
    await box.wait_flag(mid)
    assert [s.envelope.text for s in ingress.stored()] == ["Via polling."]


async def test_reconnects_when_the_server_drops_the_connection(
    mailbox: Any, ingress: SqliteIngress, running: Any
) -> None:
    adapter = await start(running, mailbox.config(), ingress)
    await asyncio.sleep(0.2)  # waiting in IDLE
    await asyncio.to_thread(mailbox.server.kick, mailbox.user)
    await eventually(lambda: adapter.state() != AdapterState.CONNECTED, what="the reader to notice")
    raw, mid = make_mail(body="Skickat efter att anslutningen bröts.")
    mailbox.deliver(raw)
    await mailbox.wait_flag(mid, timeout=20)
    assert adapter.state() == AdapterState.CONNECTED
    assert ingress.count(xid(mid)) == 1


async def test_reconnects_after_the_server_went_away(
    private_dovecot: Any, ingress: SqliteIngress, running: Any
) -> None:
    """Dovecot stops while the reader waits in IDLE; the reader reconnects by itself once it is back."""
    server = private_dovecot
    box = server.new_mailbox()
    adapter = await start(running, box.config(), ingress)
    await asyncio.to_thread(server.stop)
    await eventually(lambda: adapter.state() != AdapterState.CONNECTED, what="the reader to notice")
    await asyncio.to_thread(server.start)
    raw, mid = make_mail(body="Skickat efter att IMAP-servern startats om.")
    box.deliver(raw)
    await box.wait_flag(mid, timeout=40)
    assert ingress.count(xid(mid)) == 1
    assert adapter.state() == AdapterState.CONNECTED


async def test_auto_replies_bounces_and_list_mail_get_no_automatic_answer(
    mailbox: Any, ingress: SqliteIngress, running: Any
) -> None:
    for name in ("vacation.eml", "bounce_dsn.eml", "list_mail.eml"):
        mailbox.deliver(read_mail(name), sender="" if name == "bounce_dsn.eml" else "x@example.com")
    person, person_id = make_mail(body="En vanlig fråga.")
    mailbox.deliver(person)
    await start(running, mailbox.config(), ingress)
    await eventually(lambda: ingress.count() == 4, what="four mails")
    by_id = {s.envelope.external_id: s.envelope for s in ingress.stored()}
    by_id = {
        k: by_id[xid(k)]
        for k in (
            "<vacation-1@example.com>",
            "<20240606070000.ABCDEF@mx.example.se>",
            "<list-1@lists.example.org>",
            person_id,
        )
    }
    assert by_id["<vacation-1@example.com>"].meta["suppress_auto_reply"] is True
    assert by_id["<20240606070000.ABCDEF@mx.example.se>"].meta["suppress_auto_reply"] is True
    assert by_id["<list-1@lists.example.org>"].meta["suppress_auto_reply"] is True
    assert "suppress_auto_reply" not in by_id[person_id].meta
    flags = await mailbox.aflags()
    assert all("\\Seen" in f for f in flags.values())


async def test_ingress_failure_leaves_mail_unseen_and_retries(
    mailbox: Any, tmp_path: Path, running: Any
) -> None:
    ingress = SqliteIngress(tmp_path / "down.db", down=True)
    raw, mid = make_mail(body="Skickat medan databasen var nere.")
    mailbox.deliver(raw)
    await start(running, mailbox.config(), ingress)
    await eventually(lambda: ingress.calls >= 2, what="a retry after the first failure")
    assert "\\Seen" not in (await mailbox.aflags())[mid]
    assert ingress.count() == 0
    ingress.down = False  # the store is back
    await mailbox.wait_flag(mid, timeout=40)
    assert ingress.count(xid(mid)) == 1


async def test_refused_mail_is_flagged_not_retried_and_others_flow(
    mailbox: Any, tmp_path: Path, running: Any
) -> None:
    ingress = SqliteIngress(tmp_path / "reject.db", reject_empty=True)
    empty, empty_id = make_mail(body="")
    good, good_id = make_mail(body="Jag behöver prata med någon.")
    mailbox.deliver(empty)
    mailbox.deliver(good)
    await start(running, mailbox.config(), ingress)
    await mailbox.wait_flag(good_id)
    flags = await mailbox.wait_flag(empty_id, "$HelplineRejected")
    assert "\\Seen" not in flags  # left for an administrator, never deleted
    calls = ingress.calls
    await asyncio.sleep(0.5)
    assert ingress.calls == calls
    assert [s.envelope.external_id for s in ingress.stored()] == [xid(good_id)]


async def test_oversized_mail_becomes_a_stub(mailbox: Any, ingress: SqliteIngress, running: Any) -> None:
    raw, mid = make_mail(body="Stor bilaga.", attachment=("film.mp4", "video/mp4", os.urandom(20000)))
    mailbox.deliver(raw)
    await start(running, mailbox.config(max_size=5000), ingress)
    await mailbox.wait_flag(mid)
    [stored] = ingress.stored()
    assert stored.envelope.external_id == xid(mid)
    assert stored.envelope.meta["too_large"] is True
    assert stored.envelope.meta["size"] > 5000
    assert "too_large" in stored.envelope.meta["defects"]
    assert stored.envelope.meta["subject"] == "Oro för min son"
    assert "För stort" in stored.envelope.text  # the counsellor sees that somebody wrote


async def test_bad_imap_credentials(mailbox: Any, ingress: SqliteIngress, running: Any) -> None:
    adapter = EmailAdapter(mailbox.config(imap_password="wrong"), pseudonym_key=PSEUDONYM_KEY)
    running.append(adapter)
    await adapter.start(ingress)
    await eventually(lambda: adapter.state() == AdapterState.BAD_CREDENTIALS, what="BAD_CREDENTIALS")
    assert adapter.needs_lease() is True


# ------------------------------------------------------------------------------------------------
# out, and the person's answer


async def test_reply_threads_and_the_answer_continues_the_conversation(
    mailbox: Any, ingress: SqliteIngress, smtp_server: Any, running: Any
) -> None:
    first, first_id = make_mail(subject="Oro för min son", body="Min son har förändrats.")
    mailbox.deliver(first)
    adapter = await start(running, mailbox.config(smtp_port=smtp_server.port), ingress)
    await eventually(lambda: ingress.count() == 1, what="first mail")
    [stored] = ingress.stored()
    conv = ConversationId(stored.conversation_id)

    # the automatic safe response: what the pipeline copies from the last incoming message's meta
    meta = {k: stored.envelope.meta[k] for k in ("subject", "reply_in_reply_to", "reply_references")}
    bot = outgoing("Tack för att du skriver. En rådgivare svarar snart.", conv, meta, SenderKind.BOT)
    delivery = await adapter.send(bot, stored.address)
    assert delivery.status == DeliveryStatus.SENT
    counsellor = outgoing("Hej! Jag heter Lena och är rådgivare.", conv, meta, SenderKind.COUNSELLOR)
    assert (await adapter.send(counsellor, stored.address)).status == DeliveryStatus.SENT

    assert len(smtp_server.recorder.messages) == 2
    (mail_from, rcpts, bot_raw), (_, _, human_raw) = smtp_server.recorder.messages
    assert mail_from == FROM_ADDRESS
    assert rcpts == ["anna.svensson@example.se"]
    bot_mail = email.message_from_bytes(bot_raw, policy=email.policy.default)
    human_mail = email.message_from_bytes(human_raw, policy=email.policy.default)
    assert bot_mail["Message-ID"] == f"<{bot.message_id}.{conv}@{REPLY_DOMAIN}>"
    assert bot_mail["In-Reply-To"] == first_id
    assert first_id in str(bot_mail["References"]).split()
    assert bot_mail["Subject"] == f"Re: Oro för min son [#{conv}]"
    assert bot_mail["Auto-Submitted"] == "auto-replied"
    assert human_mail["Auto-Submitted"] is None
    assert human_mail["Message-ID"] == f"<{counsellor.message_id}.{conv}@{REPLY_DOMAIN}>"
    assert bot_mail.get_content_type() == "text/plain"
    assert bot_mail.get_content_charset() == "utf-8"
    assert bot_mail.get_content().strip() == "Tack för att du skriver. En rådgivare svarar snart."
    assert delivery.channel_message_id == bot_mail["Message-ID"]

    # the person answers the counsellor's mail with an ordinary "Re:"
    answer, answer_id = make_mail(
        subject=str(human_mail["Subject"]).replace("Re:", "SV: Re:"),
        body="Tack Lena. Han har slutat gå till skolan.\n\nDen 3 juni skrev Stödlinjen:\n> Hej! Jag heter Lena",
        in_reply_to=str(human_mail["Message-ID"]),
        references=f"{first_id} {human_mail['Message-ID']}",
    )
    mailbox.deliver(answer)
    await mailbox.wait_flag(answer_id)
    stored_answer = ingress.stored()[-1]
    assert stored_answer.envelope.conversation_id == conv  # the thread hint from In-Reply-To
    assert stored_answer.conversation_id == conv
    assert stored_answer.envelope.text == "Tack Lena. Han har slutat gå till skolan."


async def test_send_failures(smtp_server: Any) -> None:
    adapter = EmailAdapter(
        {"imap_host": "127.0.0.1", "imap_user": "u", "imap_password": "p", "smtp_host": "127.0.0.1",
         "smtp_port": smtp_server.port, "smtp_security": "none", "from_address": FROM_ADDRESS},
        pseudonym_key=PSEUDONYM_KEY,
    )  # fmt: skip
    env = outgoing("Hej", new_conversation_id(), {"subject": "x"})
    smtp_server.recorder.refuse["gone@example.se"] = "550 5.1.1 User unknown"
    smtp_server.recorder.refuse["full@example.se"] = "452 4.2.2 Mailbox full"
    gone = await adapter.send(env, "gone@example.se")
    assert gone.status == DeliveryStatus.UNREACHABLE
    assert "gone@example.se" not in gone.detail
    with pytest.raises(TransientChannelError):
        await adapter.send(env, "full@example.se")
    assert (await adapter.send(env, "not an address\r\nBcc: x@y.se")).status == DeliveryStatus.UNREACHABLE
    assert smtp_server.recorder.messages == []

    down = EmailAdapter(dict(adapter.config, smtp_port=1), pseudonym_key=PSEUDONYM_KEY)
    with pytest.raises(TransientChannelError):
        await down.send(env, "ok@example.se")


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_smtp_authentication(smtp_auth_server: Any) -> None:
    base = {"imap_host": "127.0.0.1", "imap_user": "u", "imap_password": "p", "smtp_host": "127.0.0.1",
            "smtp_port": smtp_auth_server.port, "smtp_security": "none", "from_address": FROM_ADDRESS}  # fmt: skip
    env = outgoing("Hej", new_conversation_id(), {"subject": "x"})
    good = EmailAdapter(dict(base, smtp_user="gw", smtp_password="s3cret"), pseudonym_key=PSEUDONYM_KEY)
    assert (await good.send(env, "p@example.se")).status == DeliveryStatus.SENT
    bad = EmailAdapter(dict(base, smtp_user="gw", smtp_password="nope"), pseudonym_key=PSEUDONYM_KEY)
    with pytest.raises(BadCredentials):
        await bad.send(env, "p@example.se")
    assert len(smtp_auth_server.recorder.messages) == 1


# ------------------------------------------------------------------------------------------------
# crash between fetch and store


@pytest.mark.parametrize("hang", ["before", "after"])
async def test_killed_between_fetch_and_seen_loses_and_duplicates_nothing(
    mailbox: Any, tmp_path: Path, running: Any, hang: str
) -> None:
    """A reader process is SIGKILLed while its ingress hangs (before storing, or after storing but
    before the mail is marked seen); a new reader takes over: the mail is stored exactly once."""
    db = tmp_path / "shared.db"
    marker = tmp_path / "reached"
    raw, mid = make_mail(body="Det här mejlet får inte försvinna.")
    mailbox.deliver(raw)
    other, other_id = make_mail(body="Ett andra mejl i kön.")
    mailbox.deliver(other)

    cfg = {
        "db": str(db),
        "hang": hang,
        "marker": str(marker),
        "key": PSEUDONYM_KEY.hex(),
        "email": mailbox.config(),
    }
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "reader_proc.py"), json.dumps(cfg)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the reader never reached ingress"
            await asyncio.sleep(0.05)
        flags = await mailbox.aflags()
        assert "\\Seen" not in flags[mid] and "\\Seen" not in flags[other_id]
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()
    ingress = SqliteIngress(db)
    assert ingress.count(xid(mid)) == (1 if hang == "after" else 0)

    await start(running, mailbox.config(), ingress)
    await mailbox.wait_flag(mid)
    await mailbox.wait_flag(other_id)
    assert ingress.count(xid(mid)) == 1
    assert ingress.count(xid(other_id)) == 1
    assert ingress.count() == 2
    if hang == "after":
        assert [r.duplicate for r in ingress.results] == [True, False]
    await asyncio.sleep(0.3)
    assert ingress.count() == 2


def test_config_validation() -> None:
    from gateway.errors import ConfigError

    good = {
        "imap_host": "h",
        "imap_user": "u",
        "imap_password": "p",
        "smtp_host": "h",
        "from_address": FROM_ADDRESS,
    }
    assert EmailAdapter.validate_config("email", dict(good, poll_interval=5))["poll_interval"] == 5.0
    with pytest.raises(ConfigError, match="smtp_security"):
        EmailAdapter.validate_config("email", dict(good, smtp_security="ssl3"))
    with pytest.raises(ConfigError, match="imap_password"):
        EmailAdapter.validate_config("email", {k: v for k, v in good.items() if k != "imap_password"})
    with pytest.raises(ConfigError, match="from_address"):
        EmailAdapter.validate_config("email", dict(good, from_address="nobody"))
    with pytest.raises(ConfigError, match="pseudonym_key"):
        EmailAdapter(good, pseudonym_key=b"")
