"""The handoff options (the ``handoff`` configuration section), the delivery topic and groups, and
the rules of a referral's statuses and fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from handoff.referrals import webhook
from handoff.referrals.models import ReferralStatus

R = ReferralStatus

TOPIC_DELIVER = "handoff.deliver"
DELIVER_GROUP = "handoff"
CONSENT_GROUP = "handoff-consent"

URGENCIES: tuple[str, ...] = ("normal", "urgent")
FOLLOW_UP: dict[str, frozenset[str]] = {
    R.RECEIVED.value: frozenset({R.SENT.value}),
    R.CONTACT_MADE.value: frozenset({R.SENT.value, R.RECEIVED.value}),
    R.CLOSED.value: frozenset({R.SENT.value, R.RECEIVED.value, R.CONTACT_MADE.value}),
    R.NOT_OURS.value: frozenset({R.SENT.value, R.RECEIVED.value}),
}
"""Follow-up statuses a recipient may report, and the statuses each may follow."""
DELIVERED_STATES = frozenset(
    {R.SENT.value, R.RECEIVED.value, R.CONTACT_MADE.value, R.CLOSED.value, R.NOT_OURS.value}
)
MIN_REASON_CHARS = 10
MAX_SUMMARY_CHARS = 1000
MAX_CONTACT_CHARS = 200


@dataclass(frozen=True)
class HandoffOptions:
    """Settings of the handoff services (the ``handoff`` configuration section)."""

    reminder_after: timedelta = timedelta(hours=24)
    reminder_check_seconds: float = 300.0
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: str = ""
    mail_from: str = "no-reply@localhost"
    portal_url: str = ""
    webhook_secrets: Mapping[str, str] = field(default_factory=dict)
    webhook_attempts: int = 5
    webhook_backoff: float = 2.0
    webhook_max_backoff: float = 300.0
    webhook_timeout: float = 10.0
    callback_tolerance: float = webhook.DEFAULT_TOLERANCE

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> HandoffOptions:
        """Options from a configuration mapping; missing keys keep their defaults."""
        base = cls()
        known: dict[str, Callable[[Any], dict[str, Any]]] = {
            "reminder_hours": lambda v: {"reminder_after": timedelta(hours=float(v))},
            "reminder_check_seconds": lambda v: {"reminder_check_seconds": float(v)},
            "smtp_host": lambda v: {"smtp_host": str(v)},
            "smtp_port": lambda v: {"smtp_port": int(v)},
            "smtp_starttls": lambda v: {"smtp_starttls": bool(v)},
            "smtp_username": lambda v: {"smtp_username": str(v)},
            "smtp_password": lambda v: {"smtp_password": str(v)},
            "mail_from": lambda v: {"mail_from": str(v)},
            "portal_url": lambda v: {"portal_url": str(v)},
            "webhook_secrets": lambda v: {"webhook_secrets": {str(k): str(s) for k, s in dict(v).items()}},
            "webhook_attempts": lambda v: {"webhook_attempts": int(v)},
            "webhook_backoff": lambda v: {"webhook_backoff": float(v)},
            "webhook_max_backoff": lambda v: {"webhook_max_backoff": float(v)},
        }
        values: dict[str, Any] = {}
        for key, value in section.items():
            if key in known and value is not None:
                values.update(known[key](value))
        return base.replace(**values) if values else base

    def replace(self, **changes: Any) -> HandoffOptions:
        import dataclasses

        return dataclasses.replace(self, **changes)
