"""Delivery by e-mail (aiosmtplib) and by signed webhook (with retries), and the package's digest."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import aiosmtplib

from gateway.envelope import utcnow
from gateway.errors import InvalidInput
from handoff.referrals import webhook
from handoff.referrals.options import (
    HandoffOptions,
)


async def send_mail(options: HandoffOptions, to: str, subject: str, body: str, reference: str) -> None:
    """Send one plain-text e-mail with aiosmtplib (raises on failure)."""
    if not options.smtp_host:
        raise InvalidInput("no SMTP server configured (handoff.smtp_host)")
    msg = EmailMessage()
    msg["From"] = options.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=options.mail_from.rpartition("@")[2] or "localhost")
    msg["X-Helpline-Reference"] = reference
    msg.set_content(body)
    await aiosmtplib.send(
        msg,
        hostname=options.smtp_host,
        port=options.smtp_port,
        start_tls=options.smtp_starttls,
        username=options.smtp_username or None,
        password=options.smtp_password or None,
        timeout=30,
    )


async def post_webhook(
    options: HandoffOptions, recipient_id: str, url: str, payload: Mapping[str, Any], key: str
) -> dict[str, Any]:
    """Deliver a signed webhook with retries; the outcome as a delivery record."""
    secret = options.webhook_secrets.get(recipient_id)
    if not secret:
        return {
            "delivered": False,
            "attempts": 0,
            "status": None,
            "error": "no_secret",
            "at": utcnow().isoformat(),
        }
    result = await webhook.deliver(
        url,
        secret,
        payload,
        key,
        attempts=options.webhook_attempts,
        backoff=options.webhook_backoff,
        max_backoff=options.webhook_max_backoff,
        timeout=options.webhook_timeout,
    )
    error = None if result.delivered else (f"HTTP {result.status}" if result.status else "no_answer")
    return {
        "delivered": result.delivered,
        "attempts": result.attempts,
        "status": result.status,
        "error": error,
        "at": utcnow().isoformat(),
    }


def package_digest(package: Mapping[str, Any]) -> str:
    return hashlib.sha256(webhook.encode_payload(package)).hexdigest()
