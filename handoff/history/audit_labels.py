"""What each audit action is called on the audit page (Swedish, English): the page shows these
words (the console catalogue's ``audit_action.<code>``), with the action's code only where no word is known yet (issue 17, item 2)."""

from __future__ import annotations

from gateway import catalogues


def audit_actions(lang: str) -> dict[str, str]:
    """``{action: words}`` in a console language (the ``audit_action.`` ids of the console catalogue)."""
    return catalogues.section("console", "en" if lang == "en" else "sv", "audit_action.")


def action_label(action: str, lang: str) -> str | None:
    """The words for ``action`` in ``lang``, or None for an action without words yet."""
    return audit_actions(lang).get(action)
