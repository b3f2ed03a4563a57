"""Text out of a mail's bytes and headers whatever their labels say: charsets (missing, wrong or
unknown labels fall back to UTF-8, then Windows-1252), RFC 2047 encoded words with capped work, and
the list of defects found on the way."""

from __future__ import annotations

import codecs
import email.header
import re

MAX_DEFECTS = 50
_MAX_HEADER_CHARS = 998
_MAX_DECODED_HEADER = 8 * 1024
"""Raw characters of one header that are decoded (RFC 2047): more never fit _MAX_HEADER_CHARS."""
# Codecs that decode bytes to text but must never be applied to mail (they interpret escapes).
_UNSAFE_CODECS = frozenset({"unicode_escape", "raw_unicode_escape", "idna", "punycode", "undefined"})
HEADER_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]+")


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
        add_defect(defects, "unknown_charset")
    if codec in (None, "ascii"):
        if codec == "ascii" and data.isascii():
            return data.decode("ascii")
        if codec == "ascii":
            add_defect(defects, "charset_mismatch")
        return _decode_fallback(data)
    if codec in ("latin-1", "iso8859-1"):
        # Latin-1 labels often hide UTF-8 or Windows-1252 (curly quotes, euro sign).
        try:
            text = data.decode("utf-8")
            if not data.isascii():
                add_defect(defects, "charset_mismatch")
            return text
        except UnicodeDecodeError:
            return _decode_fallback(data)
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError, ValueError, TypeError):
        add_defect(defects, "charset_mismatch")
        return _decode_fallback(data)
    except Exception:  # a codec misbehaving must not break parsing
        add_defect(defects, "charset_mismatch")
        return _decode_fallback(data)


def add_defect(defects: list[str] | None, name: str) -> None:
    if defects is not None and name not in defects and len(defects) < MAX_DEFECTS:
        defects.append(name)


def unsurrogate(value: str) -> str:
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
        add_defect(defects, "long_header")
    raw = unsurrogate(raw)
    try:
        parts = email.header.decode_header(raw)
    except Exception:
        add_defect(defects, "bad_encoded_word")
        parts = [(raw, None)]
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
        else:
            out.append(decode_bytes(chunk, charset, defects) if charset else _decode_fallback(chunk))
    text = "".join(out)
    text = HEADER_CONTROL_RE.sub(" ", text)
    return re.sub(r"\s{2,}", " ", text).strip()[:_MAX_HEADER_CHARS]
