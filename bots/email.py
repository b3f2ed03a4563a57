"""The e-mail channel: IMAP in (IDLE, polling as fallback), SMTP out, threads by Message-ID.

In
    One reader per fleet (``needs_lease()``) watches the mailbox over IMAP, with IDLE when the server
    offers it (renewed, with a rescan, every ``poll_interval`` seconds) and polling every
    ``poll_interval`` seconds otherwise.  Each unseen mail is fetched
    without setting ``\\Seen`` (``BODY.PEEK``), parsed (:mod:`bots.email_parse`), handed to
    ``ingress`` and only **after ingress returned** (the message is stored durably) marked
    ``\\Seen``.  If ingress raises, the mail stays unseen and the scan is retried after a back-off
    (the IMAP connection is kept); a crash
    between fetch and store therefore loses nothing, and the pipeline's dedupe on
    ``(channel, external_id)`` (a keyed hash of the Message-ID, :mod:`bots.email_privacy`) makes
    the retry harmless.  Addresses in the stored text are redacted; ids naming the sender are not
    kept for threading.  A mail the pipeline
    refuses for good (:class:`~gateway.errors.InvalidInput`) stays unseen in the mailbox for an
    administrator and is flagged ``$HelplineRejected`` so that it is not retried forever.  Mails
    are never deleted or moved.

    A mail over ``max_size`` is not downloaded: its header becomes a stub message (a short Swedish
    notice as text, ``meta["too_large"]``, the ``too_large`` defect), so a counsellor still sees
    that somebody wrote; the mail itself stays in the mailbox.

Out
    :meth:`EmailAdapter.send` sends a threaded reply over SMTP (STARTTLS, TLS or plain; login when
    ``smtp_user`` is set).  What it reads from ``envelope.meta``:

    * ``"subject"``: the subject of the person's mail (the reply's is ``Re: <subject> [#<conv>]``);
    * ``"in_reply_to"`` / ``"references"``: the Message-ID of the person's last mail and the
      References chain to put in the reply.  Every incoming envelope carries them ready-made as
      ``"reply_in_reply_to"`` / ``"reply_references"``; when the pipeline copies those keys (or the
      whole meta of the conversation's last incoming message) onto the outgoing envelope, they are
      used in preference.

    The reply's Message-ID is ``<{message_id}.{conversation_id}@{reply_domain}>``: when the person
    answers, the conversation is found again from In-Reply-To/References, else from a ``[#<conv>]``
    tag in the subject, else from a plus address ``<local>+<conv>@<domain>``.  Automatic answers
    (``SenderKind.BOT`` and ``SYSTEM``) carry ``Auto-Submitted: auto-replied``; counsellors'
    replies do not.

TLS: server certificates (SMTP and IMAP) are always verified, host name included: against the
system's CAs, or, when ``smtp_ca_file`` / ``imap_ca_file`` (PEM) is set, only against the CAs in
that file (a private CA).  A refused certificate is a TransientChannelError that says why.

Privacy: the envelope's sender is the keyed pseudonym of the normalized From address; the address
itself is only passed to ``ingress`` beside the envelope (for the encrypted contact record).  No
Received/X-Originating-IP-like header is read into the envelope.  Nothing here logs mail content
or addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.headerregistry
import email.policy
import email.utils
import logging
import re
import ssl
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, ClassVar

import aioimaplib
import aiosmtplib

from bots.email_parse import DEFAULT_MAX_SIZE, ParsedMail, parse_mail
from bots.email_privacy import external_id as email_external_id
from bots.email_privacy import keepable_ids, redact_addresses
from gateway.channel import (
    AdapterState,
    Backoff,
    ChannelAdapter,
    Delivery,
    DeliveryStatus,
    Ingress,
    register_channel,
    run_with_reconnect,
)
from gateway.envelope import (
    Attachment,
    ConversationId,
    Direction,
    Envelope,
    SenderKind,
    new_message_id,
    pseudonymize,
)
from gateway.errors import BadCredentials, ConfigError, InvalidInput, TransientChannelError
from gateway.tasks import cancel_and_wait

log = logging.getLogger(__name__)
# aioimaplib logs every protocol line at DEBUG, mail content and addresses included: never let that
# reach the gateway's logs, whatever level the operator chooses.
logging.getLogger("aioimaplib").setLevel(logging.INFO)

SMTP_SECURITY = ("starttls", "tls", "none")
REJECTED_KEYWORD = "$HelplineRejected"
IDLE_RENEW_SECONDS = 25 * 60.0
"""Re-issue IDLE before the 29 minutes after which servers may drop an idle client (RFC 2177)."""
IMAP_TIMEOUT = 30.0
SMTP_TIMEOUT = 30.0
MAX_REFERENCES_OUT = 20
_TOKEN = r"[A-Za-z0-9_-]{1,64}"
_SUBJECT_TAG_RE = re.compile(r"\[#([A-Za-z0-9_-]{6,64})\]")
_REPLY_PREFIX_RE = re.compile(r"^\s*((re|sv|aw|vs|fw|fwd|vb|vid|antw)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_ADDRESS_RE = re.compile(
    r"^[^@\s<>\"(),;:\\]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+$|^[^@\s<>\"(),;:\\]+@\[[0-9.:a-fA-F]+\]$"
)
_PARALLEL_PARSE_SIZE = 256 * 1024


class _MsgIdListHeader(email.headerregistry.UnstructuredHeader):
    """In-Reply-To / References on outgoing mail: folded between message ids, never encoded.

    The standard library folds these as unstructured text and turns a message id longer than the
    rest of the line (ours are ~90 characters) into an RFC 2047 encoded word, which no mail program
    reads as a message id: the thread would break.  The values are ``_msgids`` output (no spaces,
    no line breaks inside an id).
    """

    def fold(self, *, policy: Any) -> str:
        maxlen = int(policy.max_line_length or 78)
        linesep = str(policy.linesep)
        head = f"{self.name}:"  # type: ignore[attr-defined]  # BaseHeader's, mixed in by the registry
        lines = [head]
        for mid in str(self).split():
            if lines[-1] != head and len(lines[-1]) + 1 + len(mid) > maxlen:
                lines.append("")
            lines[-1] += " " + mid
        return linesep.join(lines) + linesep


_OUT_HEADERS = email.headerregistry.HeaderRegistry()
_OUT_HEADERS.map_to_type("in-reply-to", _MsgIdListHeader)  # type: ignore[arg-type]
_OUT_HEADERS.map_to_type("references", _MsgIdListHeader)  # type: ignore[arg-type]
_OUT_POLICY = email.policy.SMTP.clone(header_factory=_OUT_HEADERS)


class _IngressFailed(TransientChannelError):
    """Ingress raised: the mail stays unseen; the scan is retried after a back-off."""


@register_channel
class EmailAdapter(ChannelAdapter):
    name: ClassVar[str] = "email"
    config_schema: ClassVar[Mapping[str, tuple[type, bool]]] = {
        "imap_host": (str, True),
        "imap_port": (int, False),
        "imap_user": (str, True),
        "imap_password": (str, True),
        "imap_mailbox": (str, False),
        "imap_ssl": (bool, False),
        "imap_ca_file": (str, False),
        "smtp_host": (str, True),
        "smtp_port": (int, False),
        "smtp_user": (str, False),
        "smtp_password": (str, False),
        "smtp_security": (str, False),
        "smtp_ca_file": (str, False),
        "from_address": (str, True),
        "reply_domain": (str, False),
        "poll_interval": (float, False),
        "max_size": (int, False),
        "store_attachments": (bool, False),
    }
    sends_from_any_process: ClassVar[bool] = True

    def __init__(self, config: Mapping[str, Any] | None = None, pseudonym_key: bytes = b"") -> None:
        super().__init__(config)
        if not pseudonym_key:
            raise ConfigError("email.pseudonym_key", "is required")
        self._key = bytes(pseudonym_key)
        cfg = self.config
        self.imap_ssl = bool(cfg.get("imap_ssl", True))
        self.imap_host = str(cfg.get("imap_host", "127.0.0.1"))
        self.imap_port = int(cfg.get("imap_port") or (993 if self.imap_ssl else 143))
        self.imap_mailbox = str(cfg.get("imap_mailbox") or "INBOX")
        self._imap_tls = _tls_context("email.imap_ca_file", cfg.get("imap_ca_file"))
        self.smtp_security = str(cfg.get("smtp_security") or "starttls").lower()
        if self.smtp_security not in SMTP_SECURITY:
            raise ConfigError("email.smtp_security", f"must be one of {', '.join(SMTP_SECURITY)}")
        default_smtp_port = {"starttls": 587, "tls": 465, "none": 25}[self.smtp_security]
        self.smtp_host = str(cfg.get("smtp_host", "127.0.0.1"))
        self.smtp_port = int(cfg.get("smtp_port") or default_smtp_port)
        self._smtp_tls = _tls_context("email.smtp_ca_file", cfg.get("smtp_ca_file"))
        self.from_header = str(cfg.get("from_address") or "")
        self.from_address = email.utils.parseaddr(self.from_header)[1].lower()
        if "@" not in self.from_address:
            raise ConfigError("email.from_address", "must be an e-mail address")
        self.local_part, _, self.domain = self.from_address.partition("@")
        self.reply_domain = str(cfg.get("reply_domain") or self.domain).lower()
        self.poll_interval = float(cfg.get("poll_interval") or 60.0)
        self.max_size = int(cfg.get("max_size") or DEFAULT_MAX_SIZE)
        self.store_attachments = bool(cfg.get("store_attachments", False))
        self._own_id_re = re.compile(
            rf"<({_TOKEN})\.({_TOKEN})@{re.escape(self.reply_domain)}>", re.IGNORECASE
        )
        self._ingress: Ingress | None = None
        self._stopping = asyncio.Event()
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.mode: str | None = None
        """``"idle"`` or ``"poll"`` while connected."""
        self.ingested = 0

    @classmethod
    def validate_config(cls, section: str, config: Mapping[str, Any]) -> dict[str, Any]:
        out = super().validate_config(section, config)
        security = out.get("smtp_security")
        if security is not None and security.lower() not in SMTP_SECURITY:
            raise ConfigError(f"{section}.smtp_security", f"must be one of {', '.join(SMTP_SECURITY)}")
        if "@" not in email.utils.parseaddr(out["from_address"])[1]:
            raise ConfigError(f"{section}.from_address", "must be an e-mail address")
        for key in ("poll_interval", "max_size", "imap_port", "smtp_port"):
            if key in out and out[key] <= 0:
                raise ConfigError(f"{section}.{key}", "must be positive")
        return out

    def needs_lease(self) -> bool:
        return True

    def health(self) -> dict[str, Any]:
        data = super().health()
        if self.mode:
            data["mode"] = self.mode
        data["ingested"] = self.ingested
        return data

    # ------------------------------------------------------------------------------------------
    # lifecycle

    async def start(self, ingress: Ingress) -> None:
        if self._task is not None and not self._task.done():
            return
        self._ingress = ingress
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(
            run_with_reconnect(self, self._connect_once, self._stopping, Backoff(initial=0.5, maximum=30.0)),
            name="email-imap-reader",
        )

    async def stop(self) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=IMAP_TIMEOUT)
            except TimeoutError:
                await cancel_and_wait(task)
        self.mode = None
        self.set_state(AdapterState.STOPPED)

    # ------------------------------------------------------------------------------------------
    # IMAP in

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
        try:
            await client.wait_hello_from_server()
            response = await client.login(
                str(self.config.get("imap_user", "")), str(self.config.get("imap_password", ""))
            )
            if response.result != "OK":
                if _temporary_refusal(response.lines):
                    raise TransientChannelError("IMAP login temporarily refused")
                raise BadCredentials("IMAP server refused the login")
            await client.protocol.capability()  # capabilities may change after login
            response = await client.select(self.imap_mailbox)
            if response.result != "OK":
                raise TransientChannelError("IMAP mailbox cannot be selected")
            idle = client.has_capability("IDLE")
            self.mode = "idle" if idle else "poll"
            self.set_state(AdapterState.CONNECTED)
            retry = Backoff(initial=0.5, maximum=30.0)
            while not self._stopping.is_set():
                if self._lost.is_set():
                    raise TransientChannelError("IMAP connection lost")
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
            text = f"[För stort e-postmeddelande ({parsed.size} byte): innehållet har inte lästs in.]"
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
        tags = _SUBJECT_TAG_RE.findall(parsed.subject)
        if tags:
            return ConversationId(tags[-1])
        prefix = self.local_part + "+"
        for rcpt in parsed.recipients:
            local, _, domain = rcpt.partition("@")
            if domain == self.domain and local.startswith(prefix):
                token = local[len(prefix) :]
                if re.fullmatch(_TOKEN, token):
                    return ConversationId(token)
        return None

    # ------------------------------------------------------------------------------------------
    # SMTP out

    def reply_message_id(self, envelope: Envelope) -> str:
        mid = re.sub(r"[^A-Za-z0-9_-]", "", str(envelope.message_id)) or new_message_id()
        if envelope.conversation_id:
            conv = re.sub(r"[^A-Za-z0-9_-]", "", str(envelope.conversation_id))
            return f"<{mid}.{conv}@{self.reply_domain}>"
        return f"<{mid}@{self.reply_domain}>"

    def reply_subject(self, envelope: Envelope) -> str:
        subject = str(envelope.meta.get("subject") or "")
        subject = _SUBJECT_TAG_RE.sub("", subject)
        subject = _REPLY_PREFIX_RE.sub("", subject)
        subject = re.sub(r"[\x00-\x1f\x7f]+", " ", subject)
        subject = re.sub(r"\s{2,}", " ", subject).strip()[:200]
        parts = ["Re:"]
        if subject:
            parts.append(subject)
        if envelope.conversation_id:
            parts.append(f"[#{envelope.conversation_id}]")
        return " ".join(parts)

    def build_reply(self, envelope: Envelope, address: str) -> EmailMessage:
        """The outgoing mail for an envelope (exposed for tests and previews)."""
        meta = envelope.meta
        in_reply_to = _one_msgid(meta.get("reply_in_reply_to") or meta.get("in_reply_to"))
        references = _msgids(meta.get("reply_references") or meta.get("references"))
        if in_reply_to and in_reply_to not in references:
            references.append(in_reply_to)
        references = references[-MAX_REFERENCES_OUT:]
        msg = EmailMessage(policy=_OUT_POLICY)
        msg["From"] = self.from_header
        msg["To"] = address
        msg["Subject"] = self.reply_subject(envelope)
        msg["Date"] = email.utils.format_datetime(datetime.now(UTC))
        msg["Message-ID"] = self.reply_message_id(envelope)
        if in_reply_to:
            msg["In-Reply-To"] = in_reply_to
        if references:
            msg["References"] = " ".join(references)
        if envelope.sender_kind in (SenderKind.BOT, SenderKind.SYSTEM):
            msg["Auto-Submitted"] = "auto-replied"
        # Ask Exchange-like servers not to answer us with out-of-office notices.
        msg["X-Auto-Response-Suppress"] = "All"
        msg.set_content(envelope.text, subtype="plain", charset="utf-8", cte="quoted-printable")
        return msg

    async def send(self, envelope: Envelope, address: str) -> Delivery:
        address = (address or "").strip()
        if not _ADDRESS_RE.match(address):
            return Delivery(DeliveryStatus.UNREACHABLE, detail="no valid e-mail address")
        try:
            msg = self.build_reply(envelope, address)
        except (ValueError, TypeError) as exc:
            return Delivery(DeliveryStatus.FAILED, detail=f"cannot build mail ({type(exc).__name__})")
        message_id = str(msg["Message-ID"])
        user = self.config.get("smtp_user")
        try:
            await aiosmtplib.send(
                msg,
                sender=self.from_address,
                recipients=[address],
                hostname=self.smtp_host,
                port=self.smtp_port,
                username=str(user) if user else None,
                password=str(self.config.get("smtp_password") or "") if user else None,
                use_tls=self.smtp_security == "tls",
                start_tls=self.smtp_security == "starttls",
                tls_context=self._smtp_tls,
                timeout=SMTP_TIMEOUT,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            code = codes[0] if codes else 0
            if codes and all(500 <= c < 600 for c in codes):
                return Delivery(DeliveryStatus.UNREACHABLE, message_id, detail=f"recipient refused ({code})")
            raise TransientChannelError(f"recipient deferred ({code})") from None
        except aiosmtplib.SMTPAuthenticationError:
            raise BadCredentials("SMTP server refused the login") from None
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                return Delivery(
                    DeliveryStatus.FAILED, message_id, detail=f"SMTP refused the mail ({exc.code})"
                )
            raise TransientChannelError(f"SMTP temporary failure ({exc.code})") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            problem = _cert_problem(exc)
            if problem is not None:
                raise TransientChannelError(f"SMTP server certificate not trusted ({problem})") from None
            raise TransientChannelError(f"SMTP unavailable ({type(exc).__name__})") from None
        return Delivery(DeliveryStatus.SENT, message_id)


def _tls_context(key: str, ca_file: object) -> ssl.SSLContext | None:
    """A verifying client context that trusts only the CA(s) in ``ca_file``; None: the library's
    default (verifying against the system's CAs)."""
    if not ca_file:
        return None
    try:
        return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(key, f"cannot load CA certificates ({type(exc).__name__})") from None


def _cert_problem(exc: BaseException | None) -> str | None:
    """Why the server's certificate was refused, when that (possibly wrapped) is the error."""
    for _ in range(4):
        if exc is None:
            return None
        if isinstance(exc, ssl.SSLCertVerificationError):
            return str(exc.verify_message or "verification failed")
        exc = exc.__cause__ or exc.__context__
    return None


_TEMPORARY_CODES = (b"[UNAVAILABLE]", b"[SERVERBUG]", b"[INUSE]", b"[LIMIT]", b"[OVERQUOTA]")


def _temporary_refusal(lines: Sequence[object]) -> bool:
    """A NO to LOGIN that says the server, not the credentials, is the problem (RFC 5530 codes)."""
    return any(
        isinstance(line, bytes | bytearray) and any(c in line for c in _TEMPORARY_CODES) for line in lines
    )


def _msgids(value: object) -> list[str]:
    if value is None:
        return []
    items: Sequence[object] = value if isinstance(value, list | tuple) else [value]
    out: list[str] = []
    for item in items:
        for mid in re.findall(r"<[^<>\s]{1,500}>", str(item)):
            if mid not in out:
                out.append(mid)
    return out


def _one_msgid(value: object) -> str | None:
    ids = _msgids(value)
    return ids[-1] if ids else None
