"""The e-mail channel's way out: a threaded reply built and sent over SMTP (see :mod:`bots.email`,
"Out" and "TLS")."""

from __future__ import annotations

import email.headerregistry
import email.policy
import email.utils
import logging
import re
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from gateway.channel import ChannelAdapter, Delivery, DeliveryStatus
from gateway.envelope import Envelope, SenderKind, new_message_id
from gateway.errors import BadCredentials, ChannelConnectError, ConfigError, TransientChannelError
from gateway.netfail import connect_failure

log = logging.getLogger("bots.email")

SMTP_TIMEOUT = 30.0
MAX_REFERENCES_OUT = 20
TOKEN = r"[A-Za-z0-9_-]{1,64}"
SUBJECT_TAG_RE = re.compile(r"\[#([A-Za-z0-9_-]{6,64})\]")
_REPLY_PREFIX_RE = re.compile(r"^\s*((re|sv|aw|vs|fw|fwd|vb|vid|antw)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_ADDRESS_RE = re.compile(
    r"^[^@\s<>\"(),;:\\]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+$|^[^@\s<>\"(),;:\\]+@\[[0-9.:a-fA-F]+\]$"
)


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


class EmailSender(ChannelAdapter):
    """The sending half of :class:`~bots.email.EmailAdapter` (its configuration is read there)."""

    from_header: str
    from_address: str
    reply_domain: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    _smtp_tls: ssl.SSLContext | None
    smtp_error: str | None = None
    """What the last failed send said (server, step, what to check); None once a mail went out."""

    def reply_message_id(self, envelope: Envelope) -> str:
        mid = re.sub(r"[^A-Za-z0-9_-]", "", str(envelope.message_id)) or new_message_id()
        if envelope.conversation_id:
            conv = re.sub(r"[^A-Za-z0-9_-]", "", str(envelope.conversation_id))
            return f"<{mid}.{conv}@{self.reply_domain}>"
        return f"<{mid}@{self.reply_domain}>"

    def reply_subject(self, envelope: Envelope) -> str:
        subject = str(envelope.meta.get("subject") or "")
        subject = SUBJECT_TAG_RE.sub("", subject)
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
        except aiosmtplib.SMTPAuthenticationError as exc:
            refused = BadCredentials(
                f"SMTP {self._smtp_where}: login failed ({exc.code}); "
                "check channels.email.smtp_user and smtp_password"
            )
            self._smtp_failed(refused)
            raise refused from None
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                return Delivery(
                    DeliveryStatus.FAILED, message_id, detail=f"SMTP refused the mail ({exc.code})"
                )
            raise TransientChannelError(f"SMTP {self._smtp_where}: temporary failure ({exc.code})") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            failure = connect_failure(
                "SMTP",
                self.smtp_host,
                self.smtp_port,
                exc,
                step="SMTP session",
                tls_key="channels.email.smtp_security",
                ca_key="channels.email.smtp_ca_file",
            ) or _session_failure(self._smtp_where, exc)
            self._smtp_failed(failure)
            raise failure from None
        self.smtp_error = None
        return Delivery(DeliveryStatus.SENT, message_id)

    @property
    def _smtp_where(self) -> str:
        return f"{self.smtp_host}:{self.smtp_port}"

    def _smtp_failed(self, failure: Exception) -> None:
        """An expected failure of the way out: one warning that says what failed, shown in /healthz
        until a mail goes out again (the egress retries the message)."""
        if str(failure) != self.smtp_error:
            log.warning("channel email: %s", failure)
        self.smtp_error = str(failure)


def tls_context(key: str, ca_file: object) -> ssl.SSLContext | None:
    """A verifying client context that trusts only the CA(s) in ``ca_file``; None: the library's
    default (verifying against the system's CAs)."""
    if not ca_file:
        return None
    try:
        return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(key, f"cannot load CA certificates ({type(exc).__name__})") from None


def _session_failure(where: str, exc: BaseException) -> ChannelConnectError:
    """An SMTP failure that is no network outage.  Only aiosmtplib's own words are used (a server's
    answer may quote an address)."""
    if type(exc) is aiosmtplib.SMTPException and "AUTH" in str(exc):
        return ChannelConnectError(
            "SMTP",
            where,
            "login",
            "the server offers no login on this connection",
            "channels.email.smtp_security",
        )
    return ChannelConnectError(
        "SMTP", where, "SMTP session", type(exc).__name__, "channels.email.smtp_security and the server's log"
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
