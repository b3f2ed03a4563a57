"""The parts of a mail: the leaves of its MIME tree (depth capped), their types, charsets and
decoded payloads, and attachments listed with name, type and size."""

from __future__ import annotations

import email.message
import email.policy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bots.email_charset import HEADER_CONTROL_RE, add_defect, decode_header_value, unsurrogate

_MAX_DEPTH = 30
"""Multipart levels descended; deeper parts are skipped (defect ``too_deep``)."""


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    name: str
    content_type: str
    size: int
    content: bytes | None = None
    """Only when parsing with ``store_attachments=True``."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "content_type": self.content_type, "size": self.size}


def content_type(part: email.message.Message) -> str:
    try:
        ctype = part.get_content_type()
    except Exception:
        return "application/octet-stream"
    ctype = HEADER_CONTROL_RE.sub("", ctype)[:100]
    return (
        ctype if re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", ctype) else "application/octet-stream"
    )


def charset_label(part: email.message.Message) -> str | None:
    try:
        value = part.get_param("charset")
    except Exception:
        return None
    if value is None:
        return None
    if isinstance(value, tuple):  # RFC 2231
        value = value[2]
    return str(unsurrogate(str(value)))


def payload_bytes(part: email.message.Message, defects: list[str]) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        add_defect(defects, "undecodable_payload")
        return b""
    if isinstance(payload, bytes):
        return payload
    if payload is None:
        raw = part.get_payload()
        if isinstance(raw, str):
            return raw.encode("utf-8", errors="surrogateescape")
    return b""


def filename(part: email.message.Message, defects: list[str]) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        add_defect(defects, "bad_filename")
        return None
    if name is None:
        return None
    name = decode_header_value(str(name), defects)
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip(" .")
    return name[:255] or None


def leaf_parts(
    msg: email.message.Message, defects: list[str], depth: int = 0
) -> Iterator[email.message.Message]:
    """Leaves of the MIME tree; message/* parts are leaves (forwarded mail, delivery reports).

    Below _MAX_DEPTH levels nothing more is read: the defect ``too_deep`` says so."""
    if msg.is_multipart() and not content_type(msg).startswith("message/"):
        if depth >= _MAX_DEPTH:
            add_defect(defects, "too_deep")
            return
        payload = msg.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, email.message.Message):
                    yield from leaf_parts(sub, defects, depth + 1)
        return
    yield msg


def is_attachment(part: email.message.Message, ctype: str, defects: list[str]) -> bool:
    try:
        disposition = part.get_content_disposition()
    except Exception:
        disposition = None
    if disposition == "attachment":
        return True
    if ctype in ("text/plain", "text/html") and disposition in (None, "inline"):
        return filename(part, defects) is not None and disposition != "inline"
    return True


def attachment(part: email.message.Message, ctype: str, store: bool, defects: list[str]) -> AttachmentInfo:
    name = filename(part, defects)
    if ctype.startswith("message/") or ctype == "text/rfc822-headers":
        try:
            data = part.as_bytes(policy=email.policy.default.clone(linesep="\r\n"))
        except Exception:
            data = str(part.get_payload()).encode("utf-8", errors="replace")
        if name is None:
            name = "message.eml" if ctype == "message/rfc822" else ctype.split("/", 1)[1] + ".txt"
    else:
        data = payload_bytes(part, defects)
        if name is None:
            name = "attachment"
    return AttachmentInfo(name=name, content_type=ctype, size=len(data), content=data if store else None)
