"""Checks of configuration values beyond their types, for :func:`gateway.config.load_settings`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.errors import ConfigError

QUEUE_MODES = ("free", "next_only")
# RFC 9106's second recommended option (argon2id, t=3, 64 MiB, p=4): the floor outside development.
PASSWORD_FLOOR = {"password_time_cost": 3, "password_memory_kib": 65536, "password_parallelism": 4}
WAIT_TARGET_KEYS = ("critical", "high", "normal", "low")


def check_console(console: dict[str, Any], default_targets: Mapping[str, float]) -> None:
    """The console's queue mode, wait targets (completed with their defaults), reminder and
    inactivity settings; raises ConfigError naming the key."""
    if console["queue_mode"] not in QUEUE_MODES:
        raise ConfigError("console.queue_mode", "must be 'free' or 'next_only'")
    targets = dict(default_targets)
    for key, value in console["wait_targets"].items():
        if key not in WAIT_TARGET_KEYS:
            raise ConfigError(f"console.wait_targets.{key}", "unknown priority (critical, high, normal, low)")
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"console.wait_targets.{key}", "must be a positive number of minutes")
        targets[key] = float(value)
    console["wait_targets"] = targets
    for key in ("wait_reminder_max_repeat_minutes", "wait_check_seconds", "live_snapshots_per_minute"):
        if console[key] <= 0:
            raise ConfigError(f"console.{key}", "must be positive")
    if console["session_cache_seconds"] < 0 or console["session_cache_seconds"] > 60:
        raise ConfigError("console.session_cache_seconds", "must be between 0 and 60")
    if console["away_after_minutes"] < 0:
        raise ConfigError("console.away_after_minutes", "must not be negative")
    for key, value in console["language_hours"].items():
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise ConfigError(f"console.language_hours.{key}", "must be a text of 1 to 200 characters")


def check_password_cost(console: Mapping[str, Any], development: bool) -> None:
    """argon2id's cost: valid for argon2 always, and not below RFC 9106's low-memory profile
    unless ``development`` (a test or a laptop may hash quickly; a deployment may not)."""
    for key in PASSWORD_FLOOR:
        if console[key] < 1:
            raise ConfigError(f"console.{key}", "must be at least 1")
    if console["password_memory_kib"] < 8 * console["password_parallelism"]:
        raise ConfigError(
            "console.password_memory_kib", "must be at least 8 KiB per lane (password_parallelism)"
        )
    if development:
        return
    for key, floor in PASSWORD_FLOOR.items():
        if key != "password_parallelism" and console[key] < floor:
            raise ConfigError(
                f"console.{key}",
                f"may be below {floor} (RFC 9106's low-memory profile) only with development: true",
            )
