"""The shift's tests run against the console (its fixtures, from tests/handoff/console)."""

from tests.handoff.console.conftest import console, console_any_db

__all__ = ["console", "console_any_db"]
