"""The console's gateway (``tests.handoff.console.conftest``): the history routes are console routes."""

from __future__ import annotations

from tests.handoff.console.conftest import console, console_any_db

__all__ = ["console", "console_any_db"]
