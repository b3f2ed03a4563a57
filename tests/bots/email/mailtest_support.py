"""Constants and helpers shared by the e-mail tests ."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

MAILS = Path(__file__).resolve().parent / "mails"
PSEUDONYM_KEY = b"test-pseudonym-key-0123456789abcdef"
FROM_ADDRESS = "helpline@stodlinjen.example.se"
REPLY_DOMAIN = "stodlinjen.example.se"


def read_mail(name: str) -> bytes:
    return (MAILS / name).read_bytes()


def make_mail(
    sender: str = "Anna Svensson <Anna.Svensson@Example.se>",
    subject: str = "Oro för min son",
    body: str = "Hej, jag är orolig för min son.",
    *,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    extra: dict[str, str] | None = None,
    attachment: tuple[str, str, bytes] | None = None,
) -> tuple[bytes, str]:
    """A mail as a mail program would write it; returns (raw bytes, Message-ID)."""
    msg = EmailMessage()
    msg["Received"] = "from [83.250.11.7] (c-83-250-11-7.bredband.example.se [83.250.11.7]) by mx"
    msg["X-Originating-IP"] = "[83.250.11.7]"
    msg["From"] = sender
    msg["To"] = FROM_ADDRESS
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    mid = message_id or make_msgid(domain="example.se")
    msg["Message-ID"] = mid
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for key, value in (extra or {}).items():
        msg[key] = value
    msg.set_content(body)
    if attachment:
        name, ctype, data = attachment
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(), mid


async def eventually(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
