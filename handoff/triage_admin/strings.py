"""The admin's triage pages' words: ids of the ``console`` catalogue (``e_*`` for refusals,
``ta_*`` and the like for the pages), in :mod:`handoff.console.i18n`."""

from __future__ import annotations

from handoff.console.i18n import strings


def admin_strings(lang: str) -> dict[str, str]:
    """Every console id in a language (the admin's pages use the console's words and their own)."""
    return dict(strings(lang))
