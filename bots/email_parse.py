"""Robust parsing of incoming e-mail into what a counsellor needs, and nothing that identifies a machine.

:func:`parse_mail` takes the raw bytes of any mail (or anything else) and never raises: what was
wrong is listed in ``defects``.  It uses the standard library's ``email`` package with the modern
policy, and decodes text itself so that missing, wrong and unknown charset labels fall back
sensibly (UTF-8 if the bytes are valid UTF-8, else Windows-1252, which is a superset of Latin-1 for
printable text).

* ``text`` is what the counsellor sees first: quoted history ("> " lines, "Den ... skrev:",
  "On ... wrote:", Outlook's "-----Original Message-----" and "Från:/Skickat:" blocks) and
  signatures ("-- " and "Skickat från min iPhone"-like lines) are cut off.  ``full_text`` keeps
  the whole body.  HTML-only mail is turned into plain text (scripts and styles dropped).
* Attachments are listed with name, type and size; their content is kept only when asked for.
* A mail over ``max_size`` becomes a stub (headers only) with a ``too_large`` defect.
* ``auto_submitted`` is true for RFC 3834 auto-replies, bounces and list mail: they get no
  automatic answer.
* Headers that identify the person's machine (Received, X-Originating-IP, ...) are never read
  into the result.  A mail without Message-ID gets a stable synthetic one (a hash of its bytes).
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.message
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from bots.email_charset import (
    HEADER_CONTROL_RE,
    add_defect,
    decode_bytes,
    decode_header_value,
    unsurrogate,
)
from bots.email_parts import (
    AttachmentInfo,
    attachment,
    charset_label,
    content_type,
    is_attachment,
    leaf_parts,
    payload_bytes,
)
from bots.email_text import html_to_text, normalize_text, strip_quotes_and_signature
from gateway import catalogues

DEFAULT_MAX_SIZE = 10 * 1024 * 1024
"""Bytes; a larger mail is kept as a stub record."""

SYNTHETIC_ID_DOMAIN = "synthetic.invalid"
_MAX_RAW_HEADER = 32 * 1024
"""A header value longer than this is cut while the mail is parsed (defect ``long_header``)."""
_MAX_NUL_SHARE = 0.01
"""A text part with NUL bytes is text with stray NULs (removed) while control bytes are at most
this share of it, else binary."""
_MAX_REFERENCES = 50
_MAX_ATTACHMENTS = 200

_MSGID_RE = re.compile(r"<[^<>\s]{1,500}>")


@dataclass(frozen=True, slots=True)
class ParsedMail:
    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    from_address: str | None
    """The sender's address, normalized (lower case); ``None`` when there is none."""
    subject: str
    text: str
    full_text: str
    auto_submitted: bool
    attachments: tuple[AttachmentInfo, ...]
    defects: tuple[str, ...]
    date: str | None = None
    """ISO 8601, from the Date header when it parses."""
    auto_reason: str | None = None
    """Why ``auto_submitted`` is true: ``auto-submitted``, ``bounce``, ``list``, ``vacation``."""
    recipients: tuple[str, ...] = ()
    """Our side's addresses (To, Cc, Delivered-To, X-Original-To), for plus-address thread tokens."""
    language_hint: str | None = None
    """``sv`` or ``en`` from Content-Language, when present."""
    size: int = 0
    synthetic_id: bool = False
    too_large: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "in_reply_to": self.in_reply_to,
            "references": list(self.references),
            "from": self.from_address,
            "subject": self.subject,
            "text": self.text,
            "full_text": self.full_text,
            "date": self.date,
            "auto_submitted": self.auto_submitted,
            "attachments": [a.to_dict() for a in self.attachments],
            "defects": list(self.defects),
        }


# --------------------------------------------------------------------------------------------------
# the mail


def _raw_header(msg: email.message.Message, name: str) -> str | None:
    """A header's raw value (first occurrence), read without the policy's interpretation."""
    lname = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == lname:
            return str(value)
    return None


def _raw_headers(msg: email.message.Message, name: str) -> list[str]:
    lname = name.lower()
    return [str(v) for k, v in msg.raw_items() if k.lower() == lname]


def _decode_words(raw: str | None) -> str | None:
    """Undo RFC 2047 encoded words that some senders wrongly put around message ids."""
    if not raw or "=?" not in raw:
        return raw
    try:
        return str(email.header.make_header(email.header.decode_header(raw)))
    except (ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
        return raw


def _msgid(raw: str | None) -> str | None:
    if not raw:
        return None
    match = _MSGID_RE.search(unsurrogate(raw))
    if match:
        return HEADER_CONTROL_RE.sub("", match.group(0))
    cleaned = HEADER_CONTROL_RE.sub("", unsurrogate(raw)).strip()
    if cleaned and " " not in cleaned and len(cleaned) <= 500:
        return f"<{cleaned.strip('<>')}>"
    return None


def _addresses(raw_values: list[str]) -> list[str]:
    values = [HEADER_CONTROL_RE.sub(" ", unsurrogate(v)) for v in raw_values]
    try:
        pairs = email.utils.getaddresses(values)
    except Exception:
        return []
    out: list[str] = []
    for _name, addr in pairs:
        addr = addr.strip().strip("<>").strip().lower()
        if "@" in addr and " " not in addr and len(addr) <= 320 and addr not in out:
            out.append(addr)
    return out


def _parse_date(raw: str | None, defects: list[str]) -> str | None:
    if not raw:
        return None
    try:
        return email.utils.parsedate_to_datetime(unsurrogate(raw).strip()).isoformat()
    except Exception:
        add_defect(defects, "bad_date")
        return None


def _auto_reason(msg: email.message.Message, from_address: str | None, subject: str) -> str | None:
    auto = _raw_header(msg, "Auto-Submitted")
    if auto is not None and not auto.strip().lower().startswith("no"):
        return "auto-submitted"
    local = (from_address or "").split("@", 1)[0]
    if local in ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"):
        return "bounce"
    if content_type(msg) == "multipart/report":
        return "bounce"
    return_path = _raw_header(msg, "Return-Path")
    if return_path is not None and return_path.strip() in ("<>", ""):
        return "bounce"
    if _raw_header(msg, "List-Id") is not None or _raw_header(msg, "List-Unsubscribe") is not None:
        return "list"
    precedence = (_raw_header(msg, "Precedence") or "").strip().lower()
    if precedence in ("bulk", "list", "junk", "auto_reply"):
        return "list" if precedence != "auto_reply" else "auto-submitted"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if _raw_header(msg, name) is not None:
            return "vacation"
    if re.match(r"^\s*(automatic reply|automatiskt svar|autosvar|out of office|frånvaro)\s*:", subject, re.I):
        return "vacation"
    return None


def _language_hint(msg: email.message.Message) -> str | None:
    value = (_raw_header(msg, "Content-Language") or "").strip().lower()
    code = re.split(r"[-_,;\s]", value, maxsplit=1)[0]
    if not code:
        return None
    # Any language the person catalogue has (ar, so, tr...), Croatian and Serbian as Bosnian; pick's
    # fallback for a language without a catalogue is no hint.
    lang = catalogues.pick("person", code)
    return lang if lang == code or catalogues.ALIASES.get(code) == lang else None


def synthetic_message_id(raw: bytes) -> str:
    return f"<{hashlib.sha256(raw).hexdigest()[:40]}@{SYNTHETIC_ID_DOMAIN}>"


def parse_mail(
    raw: bytes,
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    store_attachments: bool = False,
    declared_size: int | None = None,
) -> ParsedMail:
    """Parse any bytes as a mail; never raises.

    ``declared_size`` is the mail's real size when ``raw`` holds only its header (the adapter fetches
    just the header of a mail over ``max_size``): the result is then a stub.
    """
    size = declared_size if declared_size is not None else len(raw)
    try:
        return _parse(raw, max_size=max_size, store_attachments=store_attachments, size=size)
    except Exception as exc:  # the last safety net: a stub with the defect named
        named = ("too_deep",) if isinstance(exc, RecursionError) else ()
        return ParsedMail(
            message_id=synthetic_message_id(raw),
            in_reply_to=None,
            references=(),
            from_address=None,
            subject="",
            text="",
            full_text="",
            auto_submitted=False,
            attachments=(),
            defects=("unparseable", *named, f"error:{type(exc).__name__}"),
            size=size,
            synthetic_id=True,
        )


_BINARY_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13)) + b"\x7f"


def _looks_binary(data: bytes) -> bool:
    """True for bytes that are no text with a stray NUL: many NULs or other control bytes."""
    limit = max(1, int(len(data) * _MAX_NUL_SHARE))
    return sum(data.count(bytes((b,))) for b in _BINARY_BYTES) > limit


class _CappedPolicy(email.policy.EmailPolicy):
    """The modern policy, with every header value cut to _MAX_RAW_HEADER characters as it is read,
    so that no later step (decoding, the policy's own header parsing) works on megabytes."""

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        name, value = super().header_source_parse(sourcelines)
        return name, value[:_MAX_RAW_HEADER]


_POLICY = _CappedPolicy()


def _header_part(raw: bytes) -> bytes:
    for sep in (b"\r\n\r\n", b"\n\n"):
        idx = raw.find(sep)
        if idx >= 0:
            return raw[: idx + len(sep)]
    return raw[:65536]


def _parse(raw: bytes, *, max_size: int, store_attachments: bool, size: int) -> ParsedMail:
    defects: list[str] = []
    too_large = size > max_size
    if not raw.strip():
        defects.append("empty")
    if too_large:
        defects.append("too_large")
        raw_for_parse = _header_part(raw)[:262144]
    else:
        raw_for_parse = raw
    msg = email.message_from_bytes(raw_for_parse, policy=_POLICY)
    if any(len(str(v)) >= _MAX_RAW_HEADER for _k, v in msg.raw_items()):
        add_defect(defects, "long_header")

    if not any(True for _ in msg.raw_items()):
        add_defect(defects, "no_headers")
    if not too_large:  # a header-only stub would report its missing body parts
        for defect in getattr(msg, "defects", []):
            add_defect(defects, type(defect).__name__)

    raw_id = _msgid(_raw_header(msg, "Message-ID"))
    synthetic = raw_id is None
    if synthetic:
        add_defect(defects, "missing_message_id")
        message_id = synthetic_message_id(raw)
    else:
        message_id = str(raw_id)
    in_reply_to = _msgid(_decode_words(_raw_header(msg, "In-Reply-To")))
    refs_raw = " ".join(_decode_words(unsurrogate(v)) or "" for v in _raw_headers(msg, "References"))
    references = tuple(_MSGID_RE.findall(refs_raw))[-_MAX_REFERENCES:]

    froms = _addresses(_raw_headers(msg, "From"))
    from_address = froms[0] if froms else None
    if from_address is None:
        add_defect(defects, "missing_from")
    subject = decode_header_value(_raw_header(msg, "Subject"), defects)
    date = _parse_date(_raw_header(msg, "Date"), defects)
    recipients = tuple(
        _addresses(
            _raw_headers(msg, "To")
            + _raw_headers(msg, "Cc")
            + _raw_headers(msg, "Delivered-To")
            + _raw_headers(msg, "X-Original-To")
        )
    )

    attachments: list[AttachmentInfo] = []
    plain: list[str] = []
    html: list[str] = []
    if not too_large:
        for part in leaf_parts(msg, defects):
            for defect in getattr(part, "defects", []):
                add_defect(defects, type(defect).__name__)
            ctype = content_type(part)
            if is_attachment(part, ctype, defects):
                if len(attachments) >= _MAX_ATTACHMENTS:
                    add_defect(defects, "too_many_attachments")
                    continue
                attachments.append(attachment(part, ctype, store_attachments, defects))
                continue
            data = payload_bytes(part, defects)
            if b"\x00" in data:
                if _looks_binary(data):
                    add_defect(defects, "binary_content")  # not text at all (junk, a mislabelled file)
                    continue
                add_defect(defects, "nul_removed")  # stray NULs in a text: the text is kept without them
                data = data.replace(b"\x00", b"")
            text = decode_bytes(data, charset_label(part), defects)
            (html if ctype == "text/html" else plain).append(text)

    if plain and any(p.strip() for p in plain):
        full_text = normalize_text("\n\n".join(p for p in plain if p.strip()))
    elif html:
        full_text = html_to_text("\n".join(html))
    else:
        full_text = ""
    text = strip_quotes_and_signature(full_text) if full_text else ""

    reason = _auto_reason(msg, from_address, subject)
    return ParsedMail(
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
        from_address=from_address,
        subject=subject,
        text=text,
        full_text=full_text,
        auto_submitted=reason is not None,
        attachments=tuple(attachments),
        defects=tuple(defects),
        date=date,
        auto_reason=reason,
        recipients=recipients,
        language_hint=_language_hint(msg),
        size=size,
        synthetic_id=synthetic,
        too_large=too_large,
    )
