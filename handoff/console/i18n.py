"""The console's words: the ``console`` gettext catalogue (:mod:`gateway.catalogues`), Swedish first.

Templates get the strings of the page's language as ``t`` (and ``_("id")`` through
``jinja2.ext.i18n``); the page's script gets the same mapping as a JSON data block (never inline
script).  Sections of the catalogue: ``intent.<intent>`` (the triage's intents) and
``language.<code>`` (the names of the languages triage recognises); every other id is a plain key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gateway import catalogues

DOMAIN = "console"
DEFAULT_LANGUAGE = catalogues.BASE_LANGUAGE


def _languages() -> tuple[str, ...]:
    return catalogues.languages(DOMAIN)


LANGUAGES: tuple[str, ...] = _languages()
"""The languages a member of staff can choose: those the console catalogue ships."""


def pick_language(*candidates: str | None) -> str:
    """The first candidate that is a shipped console language, else Swedish."""
    for lang in candidates:
        if lang in _languages():
            return lang
    return DEFAULT_LANGUAGE


def strings(lang: str) -> Mapping[str, str]:
    """Every id of the console catalogue in a language (Swedish for one the console does not ship)."""
    return catalogues.strings(DOMAIN, pick_language(lang))


def intent_labels(lang: str) -> dict[str, str]:
    """``{intent: label}`` in a language."""
    return catalogues.section(DOMAIN, pick_language(lang), "intent.")


def language_names(lang: str) -> dict[str, str]:
    """``{code: name}`` of the languages triage recognises, in a language."""
    return catalogues.section(DOMAIN, pick_language(lang), "language.")


def gettext(lang: str) -> Callable[[str], str]:
    """The ``gettext`` of a page (``_("id")`` in templates): the id's text, or the id when absent
    (the catalogue tests fail on an id a template uses that the catalogue lacks)."""
    words = strings(lang)

    def translate(msgid: str) -> str:
        return words.get(msgid, msgid)

    return translate


def client_strings(lang: str) -> dict[str, object]:
    """What the page's script needs: the strings, the intent labels and the languages' names."""
    lang = pick_language(lang)
    return {
        "lang": lang,
        "t": dict(strings(lang)),
        "intents": intent_labels(lang),
        "languages": language_names(lang),
        "channels": catalogues.section(DOMAIN, lang, "report.channels."),
        "audit_actions": catalogues.section(DOMAIN, lang, "audit_action."),
    }


def language_name(code: str | None, lang: str) -> str:
    """The readable name of a triage language code (``und`` or none: unknown; another code as it is)."""
    names = language_names(lang)
    if not code:
        return names["und"]
    return names.get(code, code)
