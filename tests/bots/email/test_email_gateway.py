"""E-mail through the real gateway: Dovecot in, the pipeline, the store, the queue, SMTP out.

The e-mail adapter is tested alone in ``test_email.py`` (against a small SQLite ingress);
here it runs in the gateway that ``tests.harness`` builds (``gateway.app.create_app``: its channel
built from the configuration, started under its lease, egress from the broker) with the real triage
(``nlu.triage.build_triager``) and a SQLite store, and the last test runs the gateway as a process of its own
(``python -m gateway.cli serve``), SIGKILLs it while a mail is between fetch and store, and
restarts it.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import imaplib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from sqlalchemy import func, inspect, select, text

from bots.email import EmailAdapter
from bots.email_privacy import external_id as email_external_id
from gateway.config import new_key
from gateway.crypto import ContactCipher
from gateway.envelope import Priority
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import Conversation, Message, StaffUser
from handoff import queue
from nlu.result import Triager
from tests.bots.email.mailtest_support import FROM_ADDRESS, REPLY_DOMAIN, make_mail, read_mail
from tests.harness import Running, make_settings, start

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
PERSON = "anna.svensson@example.se"

# Real triage (the embedded model): a relative worried about travel to a conflict zone is high
# priority and queues the conversation for a counsellor.
CONCERN = (
    "Hej,\njag är orolig för min son. Han pratar om att åka till Syrien för att strida "
    "och har slutat träffa sina vänner.\n\n-- \nAnna\n070-123 45 67\n"
)
CONCERN_TEXT = (
    "Hej,\njag är orolig för min son. Han pratar om att åka till Syrien för att strida "
    "och har slutat träffa sina vänner."
)


# ------------------------------------------------------------------------------------------------
# helpers


async def until(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def raw_header(raw: bytes, name: str) -> str:
    """A header exactly as it travelled (unfolded), not decoded: what a mail program threads by."""
    value = email.message_from_bytes(raw, policy=email.policy.compat32)[name]
    return " ".join(str(value).split()) if value is not None else ""


def with_thread_headers(raw: bytes, in_reply_to: str, references: list[str]) -> bytes:
    """Add In-Reply-To and References as a mail program writes them (folded between ids)."""
    head, sep, body = raw.partition(b"\n\n")
    extra = f"\nIn-Reply-To: {in_reply_to}\nReferences: " + "\n ".join(references)
    return head + extra.encode() + sep + body


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def mailbox_state(mailbox: Any) -> list[tuple[int, str, set[str]]]:
    """(uid, Message-ID, flags) of every mail in the INBOX, read by an independent IMAP client.

    Unlike ``Mailbox.flags`` this keeps two copies of one Message-ID apart.
    """
    conn = imaplib.IMAP4("127.0.0.1", mailbox.port, timeout=10)
    try:
        conn.login(mailbox.user, mailbox.password)
        conn.select("INBOX", readonly=True)
        _typ, data = conn.uid("fetch", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        out: list[tuple[int, str, set[str]]] = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            meta, header = item
            uid = re.search(rb"UID (\d+)", meta)
            flags = re.search(rb"FLAGS \(([^)]*)\)", meta)
            mid = re.search(rb"<[^>]+>", header)
            out.append(
                (
                    int(uid.group(1)) if uid else 0,
                    mid.group(0).decode() if mid else "(none)",
                    set(flags.group(1).decode().split()) if flags else set(),
                )
            )
        return sorted(out)
    finally:
        try:
            conn.logout()
        except Exception:
            pass


async def all_seen(mailbox: Any, count: int, timeout: float = 15.0) -> list[tuple[int, str, set[str]]]:
    """Wait until the mailbox holds ``count`` mails, every one of them \\Seen."""

    async def check() -> list[tuple[int, str, set[str]]] | None:
        state = await asyncio.to_thread(mailbox_state, mailbox)
        if len(state) == count and all("\\Seen" in flags for _, _, flags in state):
            return state
        return None

    result: list[tuple[int, str, set[str]]] = await until(check, timeout, f"{count} mails to be seen")
    return result


async def count_external(db: Database, external_id: str) -> int:
    async with db.session() as session:
        return int(
            (
                await session.execute(
                    select(func.count())
                    .select_from(Message)
                    .where(Message.channel == "email", Message.external_id == external_id)
                )
            ).scalar_one()
        )


async def stored_by_external(db: Database, external_id: str) -> Message | None:
    async with db.session() as session:
        return await repo.message_by_external_id(session, "email", external_id)


async def messages(db: Database, conversation_id: str) -> list[Message]:
    async with db.session() as session:
        return list(await repo.messages_of(session, conversation_id))


def email_config(mailbox: Any, smtp_port: int) -> dict[str, Any]:
    return {"enabled": True, **mailbox.config(smtp_port=smtp_port, poll_interval=30.0)}


# ------------------------------------------------------------------------------------------------
# the gateway in this process


@pytest.fixture(scope="module")
def real_triager() -> Triager:
    """The real triage (the embedded model, trained once per process: about two seconds)."""
    from nlu.triage import build_triager

    return build_triager(backend="embedded")


@pytest.fixture(scope="module")
def model_file(real_triager: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """That model saved, so that gateway processes load it (``nlu.model_path``) instead of training."""
    path = tmp_path_factory.mktemp("model") / "model.npz"
    real_triager.model.save(str(path))
    return path


class _Shared:
    """Lends the module's triager to one app without letting the app close it."""

    def __init__(self, inner: Triager) -> None:
        self.inner = inner

    async def parse(self, text: str, language_hint: str | None = None) -> Any:
        return await self.inner.parse(text, language_hint)

    def health(self) -> dict[str, Any]:
        return self.inner.health()


class Gateway(Running):
    """The gateway of ``tests.harness`` with the mail servers the e-mail channel talks to."""

    smtp: Any
    mailbox: Any

    @property
    def adapter(self) -> EmailAdapter:
        adapter = self.adapters["email"]
        assert isinstance(adapter, EmailAdapter)
        return adapter

    def sent(self) -> list[EmailMessage]:
        return [parse(raw) for _, _, raw in self.smtp.recorder.messages]

    async def counsellor(self, name: str = "lena") -> StaffUser:
        return await self.user(name, "counsellor", capacity=3)

    async def conversation(self, conversation_id: str) -> Conversation:
        async with self.db.session() as session:
            return await repo.get_conversation(session, conversation_id)

    async def waiting(self) -> list[queue.QueueEntry]:
        async with self.db.session() as session:
            return await queue.waiting(session)

    async def contact(self, conversation_id: str) -> str | None:
        async with self.db.session() as session:
            return await repo.get_contact(session, ContactCipher(self.settings.contact_key), conversation_id)

    def xid(self, message_id: str) -> str:
        """The stored external id of a mail: the keyed hash of its Message-ID."""
        return email_external_id(self.settings.pseudonym_key, message_id)

    async def stored(self, message_id: str, timeout: float = 10.0) -> Message:
        msg: Message = await until(
            lambda: stored_by_external(self.db, self.xid(message_id)), timeout, f"{message_id} to be stored"
        )
        return msg

    async def sent_count(self, n: int, timeout: float = 10.0) -> list[EmailMessage]:
        await until(lambda: len(self.smtp.recorder.messages) >= n, timeout, f"{n} mails sent")
        return self.sent()


@pytest.fixture
async def gateway(
    mailbox: Any, smtp_server: Any, sqlite_url: str, tmp_path: Path, real_triager: Triager
) -> AsyncIterator[Gateway]:
    """The real application, its e-mail channel built from the configuration (as ``serve`` does)."""
    channels = {"webchat": {"enabled": False}, "email": email_config(mailbox, smtp_server.port)}
    settings = make_settings(sqlite_url, tmp_path, channels=channels)
    gw = await start(settings, triager=_Shared(real_triager), cls=Gateway)
    gw.smtp, gw.mailbox = smtp_server, mailbox
    try:
        await until(lambda: gw.adapter.mode is not None, what="the IMAP reader to connect")
        yield gw
    finally:
        await gw.close()


@dataclass
class Opened:
    conversation_id: str
    message_id: str  # the person's Message-ID
    subject: str
    safe: EmailMessage  # the automatic safe response as it reached the SMTP server
    safe_raw: bytes


async def open_conversation(gw: Gateway) -> Opened:
    """The person writes; the gateway stores, queues and answers with the safe response."""
    subject = "Oro för min son"
    # An Outlook-shaped Message-ID: longer than fits on a header line beside "In-Reply-To:".
    mid = f"<AM9PR07MB{uuid.uuid4().hex.upper()}@AM9PR07MB7123.eurprd07.prod.outlook.com>"
    raw, mid = make_mail(sender=f"Anna Svensson <{PERSON}>", subject=subject, body=CONCERN, message_id=mid)
    gw.mailbox.deliver(raw)
    stored = await gw.stored(mid)
    [safe] = await gw.sent_count(1)
    return Opened(stored.conversation_id, mid, subject, safe, gw.smtp.recorder.messages[0][2])


# ------------------------------------------------------------------------------------------------
# 1. in: a mail becomes a queued conversation, answered at once, and only then \Seen


async def test_mail_becomes_a_queued_conversation_with_a_safe_response(gateway: Gateway) -> None:
    gw = gateway
    opened = await open_conversation(gw)
    conv_id = opened.conversation_id

    # \Seen only once it is stored (the store was checked first, above)
    await gw.mailbox.wait_flag(opened.message_id)
    assert await count_external(gw.db, gw.xid(opened.message_id)) == 1

    # the queue: one e-mail conversation, high priority (travel to a conflict zone)
    [entry] = await gw.waiting()
    assert entry.conversation_id == conv_id
    assert entry.channel == "email"
    assert entry.intent == "travel_conflict"
    assert entry.priority == Priority.HIGH
    conv = await gw.conversation(conv_id)
    assert conv.state == "queued"
    assert conv.channel == "email"
    assert conv.language == "sv"

    # what is stored: the person's text (signature stripped), the bot's safe response, sent
    person, bot = await messages(gw.db, conv_id)
    assert (person.direction, person.sender_kind, person.seq) == ("in", "person", 1)
    assert person.text == CONCERN_TEXT
    assert person.external_id == gw.xid(opened.message_id)
    assert person.meta["subject"] == opened.subject
    assert person.triage is not None and person.triage["intent"]["name"] == "travel_conflict"
    assert (bot.direction, bot.sender_kind, bot.seq) == ("out", "bot", 2)
    await until(lambda: _delivery(gw.db, bot.id, "sent"), what="the safe response to be marked sent")

    # privacy: the address lives only in the encrypted contact record
    assert await gw.contact(conv_id) == PERSON
    assert PERSON not in str(conv.pseudonym).lower()
    assert PERSON not in repr(person.meta).lower()
    assert "83.250.11.7" not in repr(person.meta)  # Received / X-Originating-IP are not kept

    # the safe response as the SMTP server received it
    [(mail_from, rcpts, _)] = gw.smtp.recorder.messages
    assert mail_from == FROM_ADDRESS
    assert rcpts == [PERSON]
    safe = opened.safe
    assert safe["To"] == PERSON
    assert safe["Auto-Submitted"] == "auto-replied"
    assert safe["In-Reply-To"] == opened.message_id
    assert opened.message_id in str(safe["References"]).split()
    # as sent: plain message ids, not RFC 2047 encoded words (which no mail program threads by)
    assert raw_header(opened.safe_raw, "In-Reply-To") == opened.message_id
    assert raw_header(opened.safe_raw, "References") == opened.message_id
    assert safe["Subject"] == f"Re: {opened.subject} [#{conv_id}]"
    assert safe["Message-ID"] == f"<{bot.id}.{conv_id}@{REPLY_DOMAIN}>"
    assert safe.get_content().strip() == bot.text.strip()
    assert "112" in bot.text  # the travel_conflict safe response names the emergency number

    # health shows the channel connected under its (in-process) lease
    await until(lambda: gw.adapter.ingested == 1, what="the adapter to count the mail")
    health = await (await gw.client.get("/healthz")).json()
    assert health["channels"]["email"]["state"] == "connected"
    assert health["channels"]["email"]["lease"] == "held"
    assert health["channels"]["email"]["ingested"] == 1


async def _delivery(db: Database, message_id: str, status: str) -> bool:
    async with db.session() as session:
        msg = await session.get(Message, message_id)
        return msg is not None and msg.delivery == status


# ------------------------------------------------------------------------------------------------
# 2. out: the counsellor's reply is a threaded reply


async def _claim_and_reply(gw: Gateway, opened: Opened, text: str) -> tuple[StaffUser, EmailMessage, str]:
    lena = await gw.counsellor()
    await gw.pipeline.staff.claim(opened.conversation_id, lena)
    reply, msg_id = await _reply(gw, opened.conversation_id, lena, text, 2)
    return lena, reply, msg_id


async def _reply(gw: Gateway, conv_id: str, who: StaffUser, text: str, nth: int) -> tuple[EmailMessage, str]:
    """The counsellor answers; returns the ``nth`` mail the SMTP server got (it) and its message id."""
    data = await gw.pipeline.staff.reply(conv_id, text, who)
    sent = await gw.sent_count(nth)
    assert len(sent) == nth
    await until(lambda: _delivery(gw.db, data["id"], "sent"), what="the reply to be marked sent")
    return sent[nth - 1], str(data["id"])


async def test_counsellor_reply_arrives_as_a_threaded_reply(gateway: Gateway) -> None:
    gw = gateway
    opened = await open_conversation(gw)
    conv_id = opened.conversation_id
    text = "Hej Anna! Jag heter Lena och är rådgivare. Berätta gärna mer om vad din son har sagt."
    _lena, reply, reply_msg_id = await _claim_and_reply(gw, opened, text)

    assert await gw.waiting() == []  # claimed: out of the queue
    assert (await gw.conversation(conv_id)).state == "assigned"

    assert reply["From"] == FROM_ADDRESS
    assert reply["To"] == PERSON
    assert reply["In-Reply-To"] == opened.message_id
    assert opened.message_id in str(reply["References"]).split()
    raw = gw.smtp.recorder.messages[1][2]
    assert raw_header(raw, "In-Reply-To") == opened.message_id  # as sent, not encoded
    assert raw_header(raw, "References") == opened.message_id
    assert reply["Subject"] == f"Re: {opened.subject} [#{conv_id}]"
    assert reply["Message-ID"] == f"<{reply_msg_id}.{conv_id}@{REPLY_DOMAIN}>"
    assert reply["Auto-Submitted"] is None  # a person wrote this one
    assert reply.get_content().strip() == text
    # the bot's answer and the counsellor's are two different mails of one thread
    assert reply["Message-ID"] != opened.safe["Message-ID"]


# ------------------------------------------------------------------------------------------------
# 3. the person's answer continues the conversation


async def test_persons_answer_continues_the_conversation(gateway: Gateway) -> None:
    gw = gateway
    opened = await open_conversation(gw)
    conv_id = opened.conversation_id
    lena, reply, _ = await _claim_and_reply(gw, opened, "Hej Anna, jag heter Lena. Vad har hänt?")
    reply_id = str(reply["Message-ID"])

    # the person answers with "Svara": the subject keeps its tag, the headers name our reply
    answer, answer_id = make_mail(
        sender=f"Anna Svensson <{PERSON}>",
        subject=f"SV: {reply['Subject']}",
        body=(
            "Tack Lena. Han har slutat gå till skolan och sitter uppe hela nätterna.\n\n"
            f"Den 3 juni skrev Stödlinjen <{FROM_ADDRESS}>:\n> Hej Anna, jag heter Lena. Vad har hänt?\n"
        ),
    )
    gw.mailbox.deliver(with_thread_headers(answer, reply_id, [opened.message_id, reply_id]))
    stored = await gw.stored(answer_id)
    await gw.mailbox.wait_flag(answer_id)

    assert stored.conversation_id == conv_id
    assert stored.meta["in_reply_to"] == reply_id
    assert stored.meta["references"] == [opened.message_id, reply_id]
    msgs = await messages(gw.db, conv_id)
    assert [(m.seq, m.direction, m.sender_kind) for m in msgs] == [
        (1, "in", "person"),
        (2, "out", "bot"),
        (3, "out", "counsellor"),
        (4, "in", "person"),
    ]
    assert msgs[3].text == "Tack Lena. Han har slutat gå till skolan och sitter uppe hela nätterna."
    conv = await gw.conversation(conv_id)
    assert conv.state == "assigned"  # still with Lena; nothing went back to the queue
    assert conv.message_count == 4
    # a conversation with a counsellor gets no automatic answer
    await asyncio.sleep(0.3)
    assert len(gw.smtp.recorder.messages) == 2

    # Lena answers again: the reply continues the thread with the whole chain, as sent
    second, _ = await _reply(gw, conv_id, lena, "Det låter tungt. Sover han något alls?", 3)
    raw = gw.smtp.recorder.messages[2][2]
    assert second["In-Reply-To"] == answer_id
    assert raw_header(raw, "In-Reply-To") == answer_id
    assert raw_header(raw, "References") == f"{opened.message_id} {reply_id} {answer_id}"
    assert second["Subject"] == f"Re: {opened.subject} [#{conv_id}]"

    # a stranger who answers the same thread (the reply was forwarded) does not join it
    stranger, stranger_id = make_mail(
        sender="Okänd <someone.else@example.org>",
        subject=f"SV: {reply['Subject']}",
        body="Jag fick det här vidarebefordrat. Vem är Anna?",
    )
    gw.mailbox.deliver(with_thread_headers(stranger, reply_id, [opened.message_id, reply_id]))
    other = await gw.stored(stranger_id)
    assert other.conversation_id != conv_id
    assert len(await messages(gw.db, conv_id)) == 5


# ------------------------------------------------------------------------------------------------
# 3b. no address in clear in the store (issue 15, item 14), and threading still works


async def _dump(db: Database) -> str:
    lines: list[str] = []
    async with db.engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        for name in sorted(names):
            rows = (await conn.execute(text(f'SELECT * FROM "{name}"'))).all()
            lines.extend(f"{name}: {tuple(row)!r}" for row in rows)
    return "\n".join(lines).lower()


async def test_addresses_are_not_stored_in_clear_and_threads_hold(gateway: Gateway) -> None:
    gw = gateway
    anna = "anna.andersson@example.org"
    # Her mail program puts her address into the Message-ID, as many do.
    first_id = f"<{uuid.uuid4().hex[:12]}.{anna}>"
    raw, first_id = make_mail(
        sender=f"Anna Andersson <{anna}>",
        subject="Oro för min son",
        body=CONCERN
        + f"\n\nOn Mon, 1 Jun 2026 at 09:12, Anna Andersson <{anna}> wrote:\n> Min son pratar om Syrien.\n",
        message_id=first_id,
    )
    gw.mailbox.deliver(raw)
    first = await gw.stored(first_id)  # found by the keyed hash of its Message-ID
    conv_id = first.conversation_id
    await gw.sent_count(1)
    lena = await gw.counsellor()
    await gw.pipeline.staff.claim(conv_id, lena)
    reply, _ = await _reply(gw, conv_id, lena, "Hej Anna, jag heter Lena. Vad har hänt?", 2)
    reply_id = str(reply["Message-ID"])
    assert reply["In-Reply-To"] != first_id  # an id naming her was not kept to answer to

    # She answers, quoting the thread with her address in it: the same conversation.
    answer, answer_id = make_mail(
        sender=f"Anna Andersson <{anna}>",
        subject=f"SV: {reply['Subject']}",
        body=(
            "Tack Lena. Han har slutat gå till skolan.\n\n"
            f"On Tue, 2 Jun 2026, Anna Andersson <{anna}> wrote:\n> Oro för min son\n"
        ),
        message_id=f"<{uuid.uuid4().hex[:12]}.{anna}>",
    )
    gw.mailbox.deliver(with_thread_headers(answer, reply_id, [first_id, reply_id]))
    stored = await gw.stored(answer_id)
    assert stored.conversation_id == conv_id
    assert stored.meta["in_reply_to"] == reply_id
    assert stored.meta["references"] == [reply_id]
    assert "[e-postadress]" in stored.meta["full_text"]
    assert await count_external(gw.db, gw.xid(answer_id)) == 1

    # The same mail again (a redelivery): still stored once.
    gw.mailbox.deliver(with_thread_headers(answer, reply_id, [first_id, reply_id]))
    await all_seen(gw.mailbox, 3, timeout=15)
    assert await count_external(gw.db, gw.xid(answer_id)) == 1

    dump = await _dump(gw.db)
    assert anna not in dump and "anna.andersson" not in dump
    assert await gw.contact(conv_id) == anna  # the address to answer: only encrypted


# ------------------------------------------------------------------------------------------------
# 4. auto-replies and bounces are stored but never answered


async def test_auto_replies_and_bounces_are_stored_but_not_answered(gateway: Gateway) -> None:
    gw = gateway
    opened = await open_conversation(gw)
    conv_id = opened.conversation_id

    # the person's out-of-office answers our safe response, in the same thread
    vacation, vacation_id = make_mail(
        sender=f"Anna Svensson <{PERSON}>",
        subject=f"Automatiskt svar: {opened.safe['Subject']}",
        body="Jag är på semester till och med 20 juni och läser inte min e-post.",
        in_reply_to=str(opened.safe["Message-ID"]),
        extra={"Auto-Submitted": "auto-replied"},
    )
    # someone else's vacation responder writing first (no Auto-Submitted, only X-Autoreply)
    other_vacation, other_vacation_id = make_mail(
        sender="Per Holm <per.holm@example.org>",
        subject="Frånvaro: Hej",
        body="Jag är ledig hela juli. Vid brådskande ärenden, ring växeln.",
        extra={"X-Autoreply": "yes"},
    )
    bounce = read_mail("bounce_dsn.eml")
    bounce_id = "<20240606070000.ABCDEF@mx.example.se>"
    gw.mailbox.deliver(vacation)
    gw.mailbox.deliver(other_vacation)
    gw.mailbox.deliver(bounce, sender="MAILER-DAEMON@mx.example.se")

    stored_vacation = await gw.stored(vacation_id)
    stored_other = await gw.stored(other_vacation_id)
    stored_bounce = await gw.stored(bounce_id)
    await all_seen(gw.mailbox, 4)

    # the out-of-office joined the person's conversation, flagged
    assert stored_vacation.conversation_id == conv_id
    assert stored_vacation.meta["suppress_auto_reply"] is True
    assert stored_vacation.meta["auto_reason"] == "auto-submitted"
    assert stored_other.meta["auto_reason"] == "vacation"
    assert stored_bounce.meta["auto_reason"] == "auto-submitted"  # Auto-Submitted is checked first
    assert stored_bounce.text.startswith("This is the mail system")
    for msg in (stored_other, stored_bounce):
        assert msg.conversation_id != conv_id
        # a new conversation for each, but no bot answer in it
        assert [(m.direction, m.sender_kind) for m in await messages(gw.db, msg.conversation_id)] == [
            ("in", "person")
        ]
    assert [(m.direction, m.sender_kind) for m in await messages(gw.db, conv_id)] == [
        ("in", "person"),
        ("out", "bot"),
        ("in", "person"),
    ]

    # nothing more went out: only the first mail's safe response
    await asyncio.sleep(0.5)
    assert len(gw.smtp.recorder.messages) == 1
    assert gw.adapter.ingested == 4

    # automatic mail is never triaged: no priority raised, no queued conversation opened
    for msg in (stored_vacation, stored_other, stored_bounce):
        assert msg.triage is not None and "untriaged:automatic" in msg.triage["matched_rules"]
    async with gw.db.session() as session:
        for msg in (stored_other, stored_bounce):
            conv = await session.get(Conversation, msg.conversation_id)
            assert conv is not None and conv.state == "bot" and conv.priority == 0


async def test_counsellor_reply_after_an_out_of_office_threads_to_the_persons_mail(
    gateway: Gateway,
) -> None:
    gw = gateway
    opened = await open_conversation(gw)
    vacation, vacation_id = make_mail(
        sender=f"Anna Svensson <{PERSON}>",
        subject=f"Automatiskt svar: {opened.safe['Subject']}",
        body="Jag är på semester till och med 20 juni.",
        in_reply_to=str(opened.safe["Message-ID"]),
        extra={"Auto-Submitted": "auto-replied"},
    )
    gw.mailbox.deliver(vacation)
    await gw.stored(vacation_id)
    _lena, reply, _ = await _claim_and_reply(gw, opened, "Hej Anna, jag heter Lena.")
    assert reply["Subject"] == f"Re: {opened.subject} [#{opened.conversation_id}]"
    assert reply["In-Reply-To"] == opened.message_id


# ------------------------------------------------------------------------------------------------
# 5. the real gateway process, killed between fetch and store


class RasaThatNeverAnswers:
    """A stand-in for a Rasa server: takes ``POST /model/parse`` and never answers."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.release = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def parse(self, request: web.Request) -> web.Response:
        self.requests.append(await request.json())
        await self.release.wait()
        return web.json_response({}, status=503)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/model/parse", self.parse)
        self.runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self.release.set()
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def rasa() -> AsyncIterator[RasaThatNeverAnswers]:
    server = RasaThatNeverAnswers()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GatewayProcess:
    """``python -m gateway.cli --config FILE serve --port P``, started and killed by pid."""

    def __init__(self, tmp_path: Path, config: dict[str, Any], name: str) -> None:
        self.port = _free_port()
        self.config_file = tmp_path / f"{name}.yaml"
        self.config_file.write_text(yaml.safe_dump(config))
        self.log = tmp_path / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, keys: dict[str, str]) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
        env.update(keys)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "--config", str(self.config_file), "serve",
                 "--port", str(self.port)],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip

    def alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the gateway exited with {self.proc.returncode}:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        if proc is not None:
            proc.wait(timeout=10)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture
def processes() -> Any:
    started: list[GatewayProcess] = []
    yield started
    for p in started:
        p.kill()


async def test_gateway_killed_between_fetch_and_store_loses_and_duplicates_nothing(
    mailbox: Any,
    smtp_server: Any,
    tmp_path: Path,
    rasa: RasaThatNeverAnswers,
    processes: Any,
    model_file: Path,
) -> None:
    db_file = tmp_path / "gateway.db"
    base: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{db_file}",
        "data_dir": str(tmp_path / "data"),
        "channels": {"webchat": {"enabled": False}, "email": email_config(mailbox, smtp_server.port)},
        "nlu": {"backend": "embedded", "model_path": str(model_file)},
    }
    keys = {"HELPLINE_PSEUDONYM_KEY": new_key(), "HELPLINE_CONTACT_KEY": new_key()}
    hanging = dict(
        base,
        nlu={
            "backend": "rasa",
            "rasa_url": f"http://127.0.0.1:{rasa.port}",
            "rasa_timeout": 60,
            "model_path": str(model_file),
        },
    )

    raw, mid = make_mail(sender=f"Anna Svensson <{PERSON}>", body=CONCERN)
    mailbox.deliver(raw)
    pkey = keys["HELPLINE_PSEUDONYM_KEY"]
    xmid = email_external_id(base64.urlsafe_b64decode(pkey + "=" * (-len(pkey) % 4)), mid)

    # first life: triage hangs, so the mail is fetched but never stored
    first = GatewayProcess(tmp_path, hanging, "first")
    processes.append(first)
    first.start(keys)

    def fetched() -> bool:
        first.alive()
        return bool(rasa.requests)

    await until(fetched, timeout=30, what="the gateway to fetch the mail and ask Rasa")
    assert rasa.requests[0]["text"] == CONCERN_TEXT
    await asyncio.sleep(0.2)
    [(_, seen_mid, flags)] = await asyncio.to_thread(mailbox_state, mailbox)
    assert seen_mid == mid and "\\Seen" not in flags
    first.kill()

    db = Database(f"sqlite+aiosqlite:///{db_file}")
    try:
        # the store exists (migrated at start) and holds nothing of the mail
        assert await count_external(db, xmid) == 0
        [(_, _, flags)] = await asyncio.to_thread(mailbox_state, mailbox)
        assert "\\Seen" not in flags

        # second life: the normal embedded triage; the mail is taken up again, once
        second = GatewayProcess(tmp_path, base, "second")
        processes.append(second)
        second.start(keys)

        async def seen_once() -> bool:
            second.alive()
            state = await asyncio.to_thread(mailbox_state, mailbox)
            return all("\\Seen" in f for _, _, f in state)

        await until(seen_once, timeout=30, what="the restarted gateway to store the mail")
        assert await count_external(db, xmid) == 1
        msg = await stored_by_external(db, xmid)
        assert msg is not None and msg.text == CONCERN_TEXT
        assert msg.triage is not None and msg.triage["backend"] == "embedded"
        await until(lambda: len(smtp_server.recorder.messages) == 1, timeout=10, what="the safe response")
        assert parse(smtp_server.recorder.messages[0][2])["In-Reply-To"] == mid
        async with db.session() as session:
            waiting = await queue.waiting(session)
        assert [(w.conversation_id, w.channel) for w in waiting] == [(msg.conversation_id, "email")]

        # the same mail delivered again (same Message-ID, a new copy in the mailbox): still once
        mailbox.deliver(raw)
        state = await all_seen(mailbox, 2, timeout=15)
        assert [m for _, m, _ in state] == [mid, mid]
        second.alive()
        assert await count_external(db, xmid) == 1
        async with db.session() as session:
            total = (await session.execute(select(func.count()).select_from(Message))).scalar_one()
        assert total == 2  # the person's mail and the bot's safe response, nothing more
        await asyncio.sleep(0.3)
        assert len(smtp_server.recorder.messages) == 1  # and answered once
        second.stop()
    finally:
        await db.close()
