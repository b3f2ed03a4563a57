"""The e-mail channel: IMAP in (IDLE, polling as fallback), SMTP out, threads by Message-ID.

The adapter's configuration and lifecycle are here; "In" is :mod:`bots.email_in`, "Out"
:mod:`bots.email_out`.

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
import email.utils
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from bots.email_in import IMAP_TIMEOUT, EmailReader
from bots.email_out import TOKEN, EmailSender, tls_context
from bots.email_parse import DEFAULT_MAX_SIZE
from gateway.channel import (
    AdapterState,
    Backoff,
    ChannelKey,
    Ingress,
    register_channel,
    run_with_reconnect,
)
from gateway.errors import ConfigError
from gateway.tasks import cancel_and_wait

SMTP_SECURITY = ("starttls", "tls", "none")


@register_channel
class EmailAdapter(EmailReader, EmailSender):
    name: ClassVar[str] = "email"
    config_schema: ClassVar[Mapping[str, ChannelKey]] = {
        "imap_host": ChannelKey(str, True, doc="IMAP server the mailbox is read from."),
        "imap_port": ChannelKey(int, default="993 with imap_ssl, else 143", doc="IMAP port."),
        "imap_user": ChannelKey(str, True, doc="IMAP login name (often the mailbox's address)."),
        "imap_password": ChannelKey(str, True, doc="IMAP password."),
        "imap_mailbox": ChannelKey(str, default="INBOX", doc="Folder read for new mail."),
        "imap_ssl": ChannelKey(
            bool,
            default=True,
            doc="TLS from the first byte (IMAPS, 993); false: plain IMAP (143), for tests only.",
        ),
        "imap_ca_file": ChannelKey(
            str,
            doc="PEM file of the CAs the IMAP server's certificate must chain to (a private CA); default: the system's.",
        ),
        "smtp_host": ChannelKey(str, True, doc="SMTP server replies are sent through."),
        "smtp_port": ChannelKey(int, default="587 starttls, 465 tls, 25 none", doc="SMTP port."),
        "smtp_user": ChannelKey(str, doc="SMTP login name; without it no login."),
        "smtp_password": ChannelKey(str, doc="SMTP password."),
        "smtp_security": ChannelKey(
            str,
            default="starttls",
            doc="`starttls` (587), `tls` (TLS from the first byte, 465) or `none` (25).",
        ),
        "smtp_ca_file": ChannelKey(
            str, doc="PEM file of the CAs the SMTP server's certificate must chain to."
        ),
        "from_address": ChannelKey(str, True, doc="Sender of replies, e.g. `Stödlinjen <stod@example.se>`."),
        "reply_domain": ChannelKey(
            str, default="from_address's domain", doc="Domain of the replies' Message-IDs."
        ),
        "poll_interval": ChannelKey(float, default=60.0, doc="Seconds between scans (and IDLE renewals)."),
        "max_size": ChannelKey(
            int, default=DEFAULT_MAX_SIZE, doc="Bytes; a larger mail becomes a stub message."
        ),
        "store_attachments": ChannelKey(
            bool, default=False, doc="Keep attachments' names and types in meta."
        ),
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
        self._imap_tls = tls_context("email.imap_ca_file", cfg.get("imap_ca_file"))
        self.smtp_security = str(cfg.get("smtp_security") or "starttls").lower()
        if self.smtp_security not in SMTP_SECURITY:
            raise ConfigError("email.smtp_security", f"must be one of {', '.join(SMTP_SECURITY)}")
        default_smtp_port = {"starttls": 587, "tls": 465, "none": 25}[self.smtp_security]
        self.smtp_host = str(cfg.get("smtp_host", "127.0.0.1"))
        self.smtp_port = int(cfg.get("smtp_port") or default_smtp_port)
        self._smtp_tls = tls_context("email.smtp_ca_file", cfg.get("smtp_ca_file"))
        self.from_header = str(cfg.get("from_address") or "")
        self.from_address = email.utils.parseaddr(self.from_header)[1].lower()
        if "@" not in self.from_address:
            raise ConfigError("email.from_address", "must be an e-mail address")
        self.local_part, _, self.domain = self.from_address.partition("@")
        self.reply_domain = str(cfg.get("reply_domain") or self.domain).lower()
        self.poll_interval = float(cfg.get("poll_interval") or 60.0)
        self.max_size = int(cfg.get("max_size") or DEFAULT_MAX_SIZE)
        self.store_attachments = bool(cfg.get("store_attachments", False))
        self._own_id_re = re.compile(rf"<({TOKEN})\.({TOKEN})@{re.escape(self.reply_domain)}>", re.IGNORECASE)
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
        if self.smtp_error:
            data["smtp_error"] = self.smtp_error
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
