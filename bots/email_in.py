"""The e-mail channel's way in: the IMAP reader (IDLE, polling as fallback) and the incoming
envelope made from a parsed mail (see :mod:`bots.email`, "In")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aioimaplib

from bots.email_out import MAX_REFERENCES_OUT, SUBJECT_TAG_RE, TOKEN
from bots.email_parse import ParsedMail, parse_mail
from bots.email_privacy import external_id as email_external_id
from bots.email_privacy import keepable_ids, redact_addresses
from gateway import catalogues
from gateway.channel import AdapterState, Backoff, ChannelAdapter, Ingress
from gateway.envelope import (
    Attachment,
    ConversationId,
    Direction,
    Envelope,
    SenderKind,
    new_message_id,
    pseudonymize,
)
from gateway.errors import BadCredentials, ChannelConnectError, InvalidInput, TransientChannelError
from gateway.netfail import connect_failure

log = logging.getLogger("bots.email")  # the name its records had before the split
# aioimaplib logs every protocol line at DEBUG, mail content and addresses included: never let that
# reach the gateway's logs, whatever level the operator chooses.
logging.getLogger("aioimaplib").setLevel(logging.INFO)

REJECTED_KEYWORD = "$HelplineRejected"
IDLE_RENEW_SECONDS = 25 * 60.0
"""Re-issue IDLE before the 29 minutes after which servers may drop an idle client (RFC 2177)."""
IMAP_TIMEOUT = 30.0
_PARALLEL_PARSE_SIZE = 256 * 1024


class _IngressFailed(TransientChannelError):
    """Ingress raised: the mail stays unseen; the scan is retried after a back-off."""


class EmailReader(ChannelAdapter):
    """The receiving half of :class:`~bots.email.EmailAdapter` (its configuration is read there)."""

    _key: bytes
    imap_ssl: bool
    imap_host: str
    imap_port: int
    imap_mailbox: str
    _imap_tls: ssl.SSLContext | None
    from_address: str
    local_part: str
    domain: str
    reply_domain: str
    poll_interval: float
    max_size: int
    store_attachments: bool
    _own_id_re: re.Pattern[str]
    _ingress: Ingress | None
    _stopping: asyncio.Event
    _lost: asyncio.Event
    mode: str | None
    ingested: int
    _imap_step: str

    def _client(self) -> Any:
        if self.imap_ssl:
            client = aioimaplib.IMAP4_SSL(
                host=self.imap_host, port=self.imap_port, timeout=IMAP_TIMEOUT, ssl_context=self._imap_tls
            )
        else:
            client = aioimaplib.IMAP4(host=self.imap_host, port=self.imap_port, timeout=IMAP_TIMEOUT)
        self._lost = asyncio.Event()
        lost = self._lost

        def connection_lost(exc: Exception | None) -> None:
            lost.set()

        client.protocol.conn_lost_cb = connection_lost
        return client

    async def _connect_once(self) -> None:
        client = self._client()
        where = f"IMAP {self.imap_host}:{self.imap_port}"
        self._imap_step = "connect"  # what a timeout or a dropped connection interrupted
        try:
            await client.wait_hello_from_server()
            self._imap_step = "login"
            response = await client.login(
                str(self.config.get("imap_user", "")), str(self.config.get("imap_password", ""))
            )
            if response.result != "OK":
                if _temporary_refusal(response.lines):
                    raise TransientChannelError(
                        f"{where}: login temporarily refused by the server; it is retried"
                    )
                raise BadCredentials(
                    f"{where}: login failed (refused); check channels.email.imap_user and imap_password"
                )
            await client.protocol.capability()  # capabilities may change after login
            self._imap_step = "select mailbox"
            response = await client.select(self.imap_mailbox)
            if response.result != "OK":
                raise TransientChannelError(
                    f"{where}: select mailbox failed; check channels.email.imap_mailbox"
                )
            self._imap_step = "reading the mailbox"
            idle = client.has_capability("IDLE")
            self.mode = "idle" if idle else "poll"
            self.set_state(AdapterState.CONNECTED)
            retry = Backoff(initial=0.5, maximum=30.0)
            while not self._stopping.is_set():
                if self._lost.is_set():
                    raise TransientChannelError(f"{where}: connection lost while reading the mailbox")
                try:
                    await self.scan(client)
                except _IngressFailed as exc:
                    # The store is failing, not the mailbox: keep the connection, retry the scan later.
                    self.set_state(AdapterState.CONNECTED, str(exc))
                    await self._wait_poll(retry.next_delay())
                    continue
                if retry.attempt:
                    retry.reset()
                    self.set_state(AdapterState.CONNECTED)
                if idle:
                    idle = await self._wait_idle(client)
                else:
                    await self._wait_poll()
        finally:
            self.mode = None
            await self._logout(client)

    def describe_failure(self, exc: BaseException) -> ChannelConnectError | None:
        return connect_failure(
            "IMAP",
            self.imap_host,
            self.imap_port,
            exc,
            step=getattr(self, "_imap_step", "connect"),
            tls_key="channels.email.imap_ssl",
            ca_key="channels.email.imap_ca_file",
        )

    async def _logout(self, client: Any) -> None:
        if self._lost.is_set():
            return
        with contextlib.suppress(Exception):
            if client.has_pending_idle():
                client.idle_done()
            await asyncio.wait_for(client.logout(), timeout=5.0)
        with contextlib.suppress(Exception):
            transport = client.protocol.transport
            if transport is not None:
                transport.close()

    async def _wait_poll(self, delay: float | None = None) -> None:
        """Sleep ``delay`` (default ``poll_interval``) seconds, or until stopping or the connection is lost."""
        waiters = [
            asyncio.ensure_future(self._stopping.wait()),
            asyncio.ensure_future(self._lost.wait()),
        ]
        try:
            await asyncio.wait(
                waiters,
                timeout=self.poll_interval if delay is None else delay,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for w in waiters:
                w.cancel()

    async def _wait_idle(self, client: Any) -> bool:
        """Wait in IDLE until the mailbox changes; False when the server refused IDLE (poll instead)."""
        queue = client.protocol.idle_queue
        while not queue.empty():
            queue.get_nowait()
        try:
            # Renewed every poll_interval at the latest: a rescan then also catches a mail announced
            # in the instant between the last search and the start of IDLE.
            idle_task = await client.idle_start(timeout=min(IDLE_RENEW_SECONDS, self.poll_interval))
        except aioimaplib.Abort:
            log.info("channel email: the server refused IDLE; polling every %.0f s", self.poll_interval)
            self.mode = "poll"
            await self._wait_poll()
            return False
        try:
            while True:
                push = asyncio.ensure_future(client.wait_server_push(timeout=IDLE_RENEW_SECONDS + 60))
                stop = asyncio.ensure_future(self._stopping.wait())
                lost = asyncio.ensure_future(self._lost.wait())
                done, pending = await asyncio.wait({push, stop, lost}, return_when=asyncio.FIRST_COMPLETED)
                for fut in pending:
                    fut.cancel()
                if push not in done:
                    return True
                try:
                    lines = push.result()
                except TimeoutError:
                    return True
                if lines == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    return True
                if any(
                    b"EXISTS" in line or b"RECENT" in line
                    for line in lines
                    if isinstance(line, bytes | bytearray)
                ):
                    return True
        finally:
            if not self._lost.is_set() and client.has_pending_idle():
                client.idle_done()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(idle_task, timeout=IMAP_TIMEOUT)

    async def scan(self, client: Any) -> int:
        """Hand every unseen mail to ingress, oldest first; returns how many were stored.

        Searches again until nothing new turns up: a mail that arrives while others are handled is
        announced in an untagged EXISTS the client does not see outside IDLE.
        """
        done: set[int] = set()
        stored = 0
        while not self._stopping.is_set():
            response = await client.uid_search("UNSEEN", "UNKEYWORD", REJECTED_KEYWORD, charset=None)
            if response.result != "OK":
                raise TransientChannelError("IMAP search failed")
            uids: set[int] = set()
            for line in response.lines[:-1]:
                if isinstance(line, bytes | bytearray):
                    uids.update(int(tok) for tok in bytes(line).split() if tok.isdigit())
            new = sorted(uids - done)
            if not new:
                break
            for uid in new:
                if self._stopping.is_set():
                    break
                done.add(uid)
                if await self._handle(client, str(uid)):
                    stored += 1
        return stored

    async def _fetch(self, client: Any, uid: str, what: str) -> tuple[bytes | None, int | None]:
        response = await client.uid("fetch", uid, what)
        if response.result != "OK":
            raise TransientChannelError("IMAP fetch failed")
        literal: bytes | None = None
        size: int | None = None
        for line in response.lines:
            if isinstance(line, bytearray) and literal is None:
                literal = bytes(line)
            elif isinstance(line, bytes) and size is None:
                match = re.search(rb"RFC822\.SIZE (\d+)", line)
                if match:
                    size = int(match.group(1))
        return literal, size

    async def _handle(self, client: Any, uid: str) -> bool:
        _, size = await self._fetch(client, uid, "(UID RFC822.SIZE)")
        if size is None:
            return False  # expunged meanwhile
        if size > self.max_size:
            raw, _ = await self._fetch(client, uid, "(UID BODY.PEEK[HEADER])")
        else:
            raw, _ = await self._fetch(client, uid, "(UID BODY.PEEK[])")
        if raw is None:
            return False
        if len(raw) > _PARALLEL_PARSE_SIZE:
            parsed = await asyncio.to_thread(
                parse_mail,
                raw,
                max_size=self.max_size,
                store_attachments=self.store_attachments,
                declared_size=size,
            )
        else:
            parsed = parse_mail(
                raw, max_size=self.max_size, store_attachments=self.store_attachments, declared_size=size
            )
        envelope, address = self.envelope_for(parsed)
        ingress = self._ingress
        if ingress is None:
            raise TransientChannelError("adapter not started")
        try:
            result = await ingress(envelope, address=address)
        except InvalidInput:  # refused for good: flag it for an administrator, do not retry
            log.warning("channel email: mail uid %s refused by the pipeline; left unseen and flagged", uid)
            await self._store_flags(client, uid, f"({REJECTED_KEYWORD})")
            return False
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "channel email: ingress failed for mail uid %s (%s); left unseen", uid, type(exc).__name__
            )
            raise _IngressFailed(f"ingress failed: {type(exc).__name__}") from exc
        # Stored durably: only now may the server forget that the mail is new.
        await self._store_flags(client, uid, "(\\Seen)")
        if not result.duplicate:
            self.ingested += 1
        return True

    async def _store_flags(self, client: Any, uid: str, flags: str) -> None:
        response = await client.uid("store", uid, "+FLAGS.SILENT", flags)
        if response.result != "OK":
            raise TransientChannelError("IMAP store failed")

    # ------------------------------------------------------------------------------------------
    # mail -> envelope

    def envelope_for(self, parsed: ParsedMail) -> tuple[Envelope, str]:
        """The incoming envelope for a parsed mail, and the address to answer (``""`` if none)."""
        address = parsed.from_address or ""
        if address:
            sender = pseudonymize(self._key, self.name, address)
        else:  # nobody to answer: each such mail is its own "person"
            sender = pseudonymize(self._key, self.name, f"no-address:{parsed.message_id}")
        own = address == self.from_address or parsed.message_id.lower().endswith(f"@{self.reply_domain}>")
        # Stored without addresses (bots.email_privacy): ids that name the sender are left out.
        references = keepable_ids(parsed.references, address, self._own_id_re)
        reply_references = [r for r in references if r != parsed.message_id][-(MAX_REFERENCES_OUT - 1) :]
        reply_to = keepable_ids([parsed.message_id], address, self._own_id_re)
        reply_references.extend(reply_to)
        in_reply_to = keepable_ids([parsed.in_reply_to], address, self._own_id_re)
        meta: dict[str, Any] = {
            "subject": redact_addresses(parsed.subject),
            "in_reply_to": in_reply_to[0] if in_reply_to else None,
            "references": references,
            "reply_in_reply_to": reply_to[0] if reply_to else None,
            "reply_references": reply_references,
            "full_text": redact_addresses(parsed.full_text),
        }
        if parsed.date:
            meta["date"] = parsed.date
        if parsed.defects:
            meta["defects"] = list(parsed.defects)
        if parsed.too_large:
            meta["too_large"] = True
            meta["size"] = parsed.size
        if parsed.auto_submitted:
            # Out-of-office replies, bounces and list mail are stored but never triaged.
            meta["automatic"] = True
        if parsed.auto_submitted or not address or own:
            meta["suppress_auto_reply"] = True
            meta["auto_reason"] = parsed.auto_reason or ("no_address" if not address else "own_mail")
        if parsed.language_hint:
            meta["language_hint"] = parsed.language_hint
        text = redact_addresses(parsed.text)
        if parsed.too_large and not text:
            # A stub must still reach a counsellor: say what it is (the mail stays in the mailbox).
            # For the counsellors, who read Swedish (the stored text is the same for everyone).
            text = catalogues.text("console", "sv", "email_too_large", size=parsed.size)
        envelope = Envelope(
            message_id=new_message_id(),
            direction=Direction.IN,
            channel=self.name,
            sender=sender,
            text=text,
            conversation_id=self.thread_hint(parsed),
            attachments=tuple(Attachment(a.name, a.content_type, a.size) for a in parsed.attachments),
            received_at=datetime.now(UTC),
            sender_kind=SenderKind.PERSON,
            external_id=email_external_id(self._key, parsed.message_id),
            meta=meta,
        )
        return envelope, address

    def thread_hint(self, parsed: ParsedMail) -> ConversationId | None:
        """The conversation our thread token names: In-Reply-To, References, subject tag, plus address."""
        candidates = [parsed.in_reply_to, *reversed(parsed.references)]
        for mid in candidates:
            if mid:
                match = self._own_id_re.fullmatch(mid.strip())
                if match:
                    return ConversationId(match.group(2))
        tags = SUBJECT_TAG_RE.findall(parsed.subject)
        if tags:
            return ConversationId(tags[-1])
        prefix = self.local_part + "+"
        for rcpt in parsed.recipients:
            local, _, domain = rcpt.partition("@")
            if domain == self.domain and local.startswith(prefix):
                token = local[len(prefix) :]
                if re.fullmatch(TOKEN, token):
                    return ConversationId(token)
        return None


_TEMPORARY_CODES = (b"[UNAVAILABLE]", b"[SERVERBUG]", b"[INUSE]", b"[LIMIT]", b"[OVERQUOTA]")


def _temporary_refusal(lines: Sequence[object]) -> bool:
    """A NO to LOGIN that says the server, not the credentials, is the problem (RFC 5530 codes)."""
    return any(
        isinstance(line, bytes | bytearray) and any(c in line for c in _TEMPORARY_CODES) for line in lines
    )
