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

import codecs
import email
import email.errors
import email.header
import email.message
import email.policy
import email.utils
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

DEFAULT_MAX_SIZE = 10 * 1024 * 1024
"""Bytes; a larger mail is kept as a stub record."""

SYNTHETIC_ID_DOMAIN = "synthetic.invalid"
_MAX_HEADER_CHARS = 998
_MAX_RAW_HEADER = 32 * 1024
"""A header value longer than this is cut while the mail is parsed (defect ``long_header``)."""
_MAX_DECODED_HEADER = 8 * 1024
"""Raw characters of one header that are decoded (RFC 2047): more never fit _MAX_HEADER_CHARS."""
_MAX_DEPTH = 30
"""Multipart levels descended; deeper parts are skipped (defect ``too_deep``)."""
_MAX_NUL_SHARE = 0.01
"""A text part with NUL bytes is text with stray NULs (removed) while control bytes are at most
this share of it, else binary."""
_MAX_REFERENCES = 50
_MAX_DEFECTS = 50
_MAX_ATTACHMENTS = 200

# Codecs that decode bytes to text but must never be applied to mail (they interpret escapes).
_UNSAFE_CODECS = frozenset({"unicode_escape", "raw_unicode_escape", "idna", "punycode", "undefined"})
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_HEADER_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]+")
_MSGID_RE = re.compile(r"<[^<>\s]{1,500}>")


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    name: str
    content_type: str
    size: int
    content: bytes | None = None
    """Only when parsing with ``store_attachments=True``."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "content_type": self.content_type, "size": self.size}


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
# charsets


def _codec_for(label: str | None) -> str | None:
    """The Python codec for a charset label, or None when unknown or unsafe."""
    if not label:
        return None
    label = label.strip().strip('"').strip("'").lower()
    if not label or len(label) > 40:
        return None
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _UNSAFE_CODECS:
        return None
    return str(info.name)


def _decode_fallback(data: bytes) -> str:
    """UTF-8 when valid, else Windows-1252 (with Latin-1 for the five bytes it leaves undefined)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return "".join(
            bytes([b]).decode("cp1252", errors="strict")
            if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
            else chr(b)
            for b in data
        )


def decode_bytes(data: bytes, label: str | None, defects: list[str] | None = None) -> str:
    """Decode text whose declared charset may be missing, wrong or unknown."""
    codec = _codec_for(label)
    if label and codec is None:
        _add(defects, "unknown_charset")
    if codec in (None, "ascii"):
        if codec == "ascii" and data.isascii():
            return data.decode("ascii")
        if codec == "ascii":
            _add(defects, "charset_mismatch")
        return _decode_fallback(data)
    if codec in ("latin-1", "iso8859-1"):
        # Latin-1 labels often hide UTF-8 or Windows-1252 (curly quotes, euro sign).
        try:
            text = data.decode("utf-8")
            if not data.isascii():
                _add(defects, "charset_mismatch")
            return text
        except UnicodeDecodeError:
            return _decode_fallback(data)
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError, ValueError, TypeError):
        _add(defects, "charset_mismatch")
        return _decode_fallback(data)
    except Exception:  # a codec misbehaving must not break parsing
        _add(defects, "charset_mismatch")
        return _decode_fallback(data)


def _add(defects: list[str] | None, name: str) -> None:
    if defects is not None and name not in defects and len(defects) < _MAX_DEFECTS:
        defects.append(name)


def _unsurrogate(value: str) -> str:
    """A header value read with surrogateescape (raw 8-bit bytes) -> proper text."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    return _decode_fallback(value.encode("utf-8", errors="surrogateescape"))


def decode_header_value(raw: str | None, defects: list[str] | None = None) -> str:
    """Decode a raw header value: 8-bit bytes and RFC 2047 encoded words in any charset.

    Only the first _MAX_DECODED_HEADER characters are decoded (cut at a space, so that no encoded
    word is split): decoding costs more than linear time, and no more fits the result anyway."""
    if raw is None:
        return ""
    raw = str(raw)
    if len(raw) > _MAX_DECODED_HEADER:
        head = raw[:_MAX_DECODED_HEADER]
        cut = max(head.rfind(" "), head.rfind("\t"))
        raw = head[:cut] if cut > 0 else head
        _add(defects, "long_header")
    raw = _unsurrogate(raw)
    try:
        parts = email.header.decode_header(raw)
    except Exception:
        _add(defects, "bad_encoded_word")
        parts = [(raw, None)]
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
        else:
            out.append(decode_bytes(chunk, charset, defects) if charset else _decode_fallback(chunk))
    text = "".join(out)
    text = _HEADER_CONTROL_RE.sub(" ", text)
    return re.sub(r"\s{2,}", " ", text).strip()[:_MAX_HEADER_CHARS]


# --------------------------------------------------------------------------------------------------
# HTML to text

_BLOCK_TAGS = frozenset(
    {
        "p", "div", "br", "tr", "table", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
        "pre", "section", "article", "header", "footer", "address", "dl", "dt", "dd", "center", "form",
    }
)  # fmt: skip
_SKIP_TAGS = frozenset(
    {"script", "style", "head", "title", "noscript", "template", "svg", "object", "iframe"}
)
_VOID_TAGS = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "area", "base", "col", "source"})


class _HTMLToText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip_depth = 0
        self.quote_depth = 0
        self.pre_depth = 0

    def _flush(self) -> None:
        line = "".join(self.current)
        if not self.pre_depth:
            line = re.sub(r"[ \t\r\n\f\u00a0]+", " ", line).strip()
        prefix = "> " * self.quote_depth
        if line or (self.lines and self.lines[-1].strip("> ")):
            self.lines.append((prefix + line).rstrip() if line else prefix.rstrip())
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            if tag not in _VOID_TAGS:
                self.skip_depth += 1
            return
        if self.skip_depth:
            return
        attr = dict(attrs)
        is_quote = tag == "blockquote" or (
            tag == "div"
            and any(
                c in (attr.get("class") or "") for c in ("gmail_quote", "moz-cite-prefix", "yahoo_quoted")
            )
        )
        if tag in _BLOCK_TAGS or tag == "blockquote":
            self._flush()
        if tag == "li":
            self.current.append("- ")
        if tag == "pre":
            self.pre_depth += 1
        if tag == "blockquote" or (
            is_quote and tag == "div" and "gmail_quote" not in (attr.get("class") or "")
        ):
            self.quote_depth += 1
        elif tag == "hr":
            self.lines.append("-" * 20)
        elif tag in ("td", "th"):
            self.current.append(" ")
        elif tag == "img" and attr.get("alt"):
            self.current.append(f"[{attr['alt']}]")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            if tag not in _VOID_TAGS and self.skip_depth:
                self.skip_depth -= 1
            return
        if self.skip_depth:
            return
        if tag in _BLOCK_TAGS or tag == "blockquote":
            self._flush()
        if tag == "pre" and self.pre_depth:
            self.pre_depth -= 1
        if tag == "blockquote" and self.quote_depth:
            self.quote_depth -= 1

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.pre_depth and "\n" in data:
            pieces = data.split("\n")
            for piece in pieces[:-1]:
                self.current.append(piece)
                self._flush()
            self.current.append(pieces[-1])
        else:
            self.current.append(data)

    def text(self) -> str:
        self._flush()
        return "\n".join(self.lines)


def html_to_text(html: str) -> str:
    """Plain text of an HTML body: scripts, styles and head dropped, blocks on their own lines,
    blockquotes prefixed with "> " (so quoted history is recognised like in plain mail)."""
    parser = _HTMLToText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is lenient, but never let it break parsing
        return _normalize_text(parser.text())
    return _normalize_text(parser.text())


# --------------------------------------------------------------------------------------------------
# quoted history and signatures

_ORIGINAL_RE = re.compile(
    r"^\s*[-_=*]{2,}\s*(original message|ursprungligt meddelande|originalmeddelande|"
    r"forwarded message|vidarebefordrat meddelande|urspr[üu]ngliche nachricht|message d'origine)\s*[-_=*]{2,}\s*$",
    re.IGNORECASE,
)
_HEADER_FROM_RE = re.compile(r"^\s*\**\s*(from|från|fra|von|de)\s*:\**\s*\S", re.IGNORECASE)
_HEADER_NEXT_RE = re.compile(
    r"^\s*\**\s*(sent|skickat|date|datum|gesendet|sendt|envoyé|to|till|subject|ämne|cc|betreff)\s*:",
    re.IGNORECASE,
)
_ATTRIBUTION_START_RE = re.compile(
    r"^\s*(den|on|am|le|el|op|på|sön|mån|tis|ons|tors|fre|lör)\b", re.IGNORECASE
)
_ATTRIBUTION_RE = re.compile(
    r"\b(skrev|wrote|schrieb|a écrit|escribió|schreef|kirjoitti)\b.*:\s*$", re.IGNORECASE
)
_SIG_DEVICE_RE = re.compile(
    r"^\s*(skickat från|sent from|hämta outlook|get outlook|skickat via|sent via|sendt fra|von meinem)\b"
    r"[^\n]{0,60}$",
    re.IGNORECASE,
)
_SEPARATOR_RE = re.compile(r"^\s*[_\-=*]{8,}\s*$")


def _cut_index(lines: list[str]) -> int:
    """Index of the first line of quoted history or signature, or len(lines)."""
    n = len(lines)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if line.rstrip("\r") in ("-- ", "--") and i > 0:
            return i
        if _ORIGINAL_RE.match(line):
            return i
        if _SIG_DEVICE_RE.match(line) and i > 0:
            return i
        if _HEADER_FROM_RE.match(line):
            following = [x for x in lines[i + 1 : i + 6] if x.strip()]
            if any(_HEADER_NEXT_RE.match(x) for x in following[:4]):
                return _back_over_separators(lines, i)
        if stripped and _ATTRIBUTION_START_RE.match(stripped):
            joined = stripped
            for j in range(i, min(i + 3, n)):
                if j > i:
                    joined += " " + lines[j].strip()
                if _ATTRIBUTION_RE.search(joined) and len(joined) < 400:
                    nxt = [x for x in lines[j + 1 : j + 3] if x.strip()]
                    if j + 1 >= n or not nxt or nxt[0].lstrip().startswith(">") or len(joined) < 250:
                        return i
                    break
        elif stripped and _ATTRIBUTION_RE.search(stripped) and len(stripped) < 200:
            nxt = [x for x in lines[i + 1 : i + 3] if x.strip()]
            if nxt and nxt[0].lstrip().startswith(">"):
                return i
    return n


def _back_over_separators(lines: list[str], i: int) -> int:
    while i > 0 and (not lines[i - 1].strip() or _SEPARATOR_RE.match(lines[i - 1])):
        i -= 1
    return i


def strip_quotes_and_signature(full_text: str) -> str:
    """What the counsellor sees first: the new text, without quoted history and signature.

    Falls back to the whole text when nothing would be left (a mail that is all quote)."""
    lines = full_text.split("\n")
    lines = lines[: _cut_index(lines)]
    kept = [line for line in lines if not line.lstrip().startswith(">")]
    text = _normalize_text("\n".join(kept))
    return text if text else full_text


def _normalize_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_RE.sub("", text)
    lines = [line.rstrip() for line in text.split("\n")]
    out = "\n".join(lines)
    out = re.sub(r"\n{3,}", "\n\n", out)
    return out.strip("\n").strip()


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
    match = _MSGID_RE.search(_unsurrogate(raw))
    if match:
        return _HEADER_CONTROL_RE.sub("", match.group(0))
    cleaned = _HEADER_CONTROL_RE.sub("", _unsurrogate(raw)).strip()
    if cleaned and " " not in cleaned and len(cleaned) <= 500:
        return f"<{cleaned.strip('<>')}>"
    return None


def _addresses(raw_values: list[str]) -> list[str]:
    values = [_HEADER_CONTROL_RE.sub(" ", _unsurrogate(v)) for v in raw_values]
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


def _content_type(part: email.message.Message) -> str:
    try:
        ctype = part.get_content_type()
    except Exception:
        return "application/octet-stream"
    ctype = _HEADER_CONTROL_RE.sub("", ctype)[:100]
    return (
        ctype if re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", ctype) else "application/octet-stream"
    )


def _charset_label(part: email.message.Message) -> str | None:
    try:
        value = part.get_param("charset")
    except Exception:
        return None
    if value is None:
        return None
    if isinstance(value, tuple):  # RFC 2231
        value = value[2]
    return str(_unsurrogate(str(value)))


def _payload_bytes(part: email.message.Message, defects: list[str]) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        _add(defects, "undecodable_payload")
        return b""
    if isinstance(payload, bytes):
        return payload
    if payload is None:
        raw = part.get_payload()
        if isinstance(raw, str):
            return raw.encode("utf-8", errors="surrogateescape")
    return b""


def _filename(part: email.message.Message, defects: list[str]) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        _add(defects, "bad_filename")
        return None
    if name is None:
        return None
    name = decode_header_value(str(name), defects)
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip(" .")
    return name[:255] or None


def _leaf_parts(
    msg: email.message.Message, defects: list[str], depth: int = 0
) -> Iterator[email.message.Message]:
    """Leaves of the MIME tree; message/* parts are leaves (forwarded mail, delivery reports).

    Below _MAX_DEPTH levels nothing more is read: the defect ``too_deep`` says so."""
    if msg.is_multipart() and not _content_type(msg).startswith("message/"):
        if depth >= _MAX_DEPTH:
            _add(defects, "too_deep")
            return
        payload = msg.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, email.message.Message):
                    yield from _leaf_parts(sub, defects, depth + 1)
        return
    yield msg


def _is_attachment(part: email.message.Message, ctype: str, defects: list[str]) -> bool:
    try:
        disposition = part.get_content_disposition()
    except Exception:
        disposition = None
    if disposition == "attachment":
        return True
    if ctype in ("text/plain", "text/html") and disposition in (None, "inline"):
        return _filename(part, defects) is not None and disposition != "inline"
    return True


def _parse_date(raw: str | None, defects: list[str]) -> str | None:
    if not raw:
        return None
    try:
        return email.utils.parsedate_to_datetime(_unsurrogate(raw).strip()).isoformat()
    except Exception:
        _add(defects, "bad_date")
        return None


def _auto_reason(msg: email.message.Message, from_address: str | None, subject: str) -> str | None:
    auto = _raw_header(msg, "Auto-Submitted")
    if auto is not None and not auto.strip().lower().startswith("no"):
        return "auto-submitted"
    local = (from_address or "").split("@", 1)[0]
    if local in ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"):
        return "bounce"
    if _content_type(msg) == "multipart/report":
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
    for lang in ("sv", "en"):
        if value.startswith(lang):
            return lang
    return None


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
        _add(defects, "long_header")

    if not any(True for _ in msg.raw_items()):
        _add(defects, "no_headers")
    if not too_large:  # a header-only stub would report its missing body parts
        for defect in getattr(msg, "defects", []):
            _add(defects, type(defect).__name__)

    raw_id = _msgid(_raw_header(msg, "Message-ID"))
    synthetic = raw_id is None
    if synthetic:
        _add(defects, "missing_message_id")
        message_id = synthetic_message_id(raw)
    else:
        message_id = str(raw_id)
    in_reply_to = _msgid(_decode_words(_raw_header(msg, "In-Reply-To")))
    refs_raw = " ".join(_decode_words(_unsurrogate(v)) or "" for v in _raw_headers(msg, "References"))
    references = tuple(_MSGID_RE.findall(refs_raw))[-_MAX_REFERENCES:]

    froms = _addresses(_raw_headers(msg, "From"))
    from_address = froms[0] if froms else None
    if from_address is None:
        _add(defects, "missing_from")
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
        for part in _leaf_parts(msg, defects):
            for defect in getattr(part, "defects", []):
                _add(defects, type(defect).__name__)
            ctype = _content_type(part)
            if _is_attachment(part, ctype, defects):
                if len(attachments) >= _MAX_ATTACHMENTS:
                    _add(defects, "too_many_attachments")
                    continue
                attachments.append(_attachment(part, ctype, store_attachments, defects))
                continue
            data = _payload_bytes(part, defects)
            if b"\x00" in data:
                if _looks_binary(data):
                    _add(defects, "binary_content")  # not text at all (junk, a mislabelled file)
                    continue
                _add(defects, "nul_removed")  # stray NULs in a text: the text is kept without them
                data = data.replace(b"\x00", b"")
            text = decode_bytes(data, _charset_label(part), defects)
            (html if ctype == "text/html" else plain).append(text)

    if plain and any(p.strip() for p in plain):
        full_text = _normalize_text("\n\n".join(p for p in plain if p.strip()))
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


def _attachment(part: email.message.Message, ctype: str, store: bool, defects: list[str]) -> AttachmentInfo:
    name = _filename(part, defects)
    if ctype.startswith("message/") or ctype == "text/rfc822-headers":
        try:
            data = part.as_bytes(policy=email.policy.default.clone(linesep="\r\n"))
        except Exception:
            data = str(part.get_payload()).encode("utf-8", errors="replace")
        if name is None:
            name = "message.eml" if ctype == "message/rfc822" else ctype.split("/", 1)[1] + ".txt"
    else:
        data = _payload_bytes(part, defects)
        if name is None:
            name = "attachment"
    return AttachmentInfo(name=name, content_type=ctype, size=len(data), content=data if store else None)
