"""The console's running gateway and signed-in staff (``tests.handoff.console.conftest``), for the
staff pages' tests."""

from __future__ import annotations

from tests.handoff.console.conftest import console as console
from tests.handoff.console.conftest import console_any_db as console_any_db
