"""The shift's settings from ``console.*`` (checked at start by :mod:`gateway.config`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from aiohttp import web

from gateway.appkeys import SETTINGS
from gateway.config import Settings

FREE = "free"
NEXT_ONLY = "next_only"
STATUSES = ("available", "break", "away")
AVAILABLE, BREAK, AWAY = STATUSES
ON_CALL = "on_call"
"""Set by the gateway while a member is on a phone call (handoff.phone.busy); never chosen."""


@dataclass(frozen=True, slots=True)
class ShiftOptions:
    queue_mode: str = FREE
    wait_targets: dict[str, timedelta] = field(
        default_factory=lambda: {
            "critical": timedelta(minutes=1),
            "high": timedelta(minutes=5),
            "normal": timedelta(minutes=15),
            "low": timedelta(minutes=60),
        }
    )
    max_repeat: timedelta = timedelta(minutes=15)
    check_seconds: float = 15.0
    away_after: timedelta | None = timedelta(minutes=15)
    """None: nobody is set away automatically."""
    language_hours: dict[str, str] = field(default_factory=dict)
    """When a counsellor who speaks the language is usually on duty (told in the language notice)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ShiftOptions:
        cfg = settings.section("console")
        away = float(cfg["away_after_minutes"])
        return cls(
            queue_mode=str(cfg["queue_mode"]),
            wait_targets={k: timedelta(minutes=float(v)) for k, v in cfg["wait_targets"].items()},
            max_repeat=timedelta(minutes=float(cfg["wait_reminder_max_repeat_minutes"])),
            check_seconds=float(cfg["wait_check_seconds"]),
            away_after=timedelta(minutes=away) if away > 0 else None,
            language_hours={str(k): str(v).strip() for k, v in cfg["language_hours"].items()},
        )

    def repeat(self, priority: str) -> timedelta:
        """How long after a reminder the next one is due while the conversation still waits: its
        priority's target, but at least a minute and at most ``max_repeat``."""
        target = self.wait_targets.get(priority, self.wait_targets["normal"])
        return min(max(target, timedelta(minutes=1)), self.max_repeat)

    def may_pick(self, role: str) -> bool:
        """Whether a staff member of ``role`` may claim a conversation of their choice."""
        return self.queue_mode == FREE or role in ("supervisor", "admin")


def shift_options(app: web.Application) -> ShiftOptions:
    return ShiftOptions.from_settings(app[SETTINGS])
