"""Every word a person or a member of staff reads, from gettext catalogues (Babel ``.po`` files).

Layout: ``gateway/locale/<lang>/LC_MESSAGES/<domain>.po``, two domains:

* ``person``: everything the person writing in reads (the web chat page and widget, the Telegram and
  XMPP automatic texts, the consent question and its answers, notices such as "another counsellor
  takes over").  Message ids are symbolic, one section per source: ``chat.*`` (the web chat page; the
  browser gets them without the prefix), ``widget.*``, ``telegram.*``, ``xmpp.*``, ``sms.*``, ``consent.*``,
  ``referral_label.*`` (the labels the consent question shows), ``notice.*``, and ``language.name`` (the
  language's own name, for the language menu).
* ``console``: the staff side.

The msgstr of each id is the text; a translation awaiting a native speaker's review carries the flag
``#, needs-review`` (not ``fuzzy``: gettext tools drop fuzzy entries, and so does this module).

The shipped languages of a domain are the locale directories that have its ``.po`` file: adding a
language is adding a file.  The runtime reads the ``.po`` files directly (parsed once per process), so a
fresh clone runs without a compile step; ``helpline i18n compile`` writes ``.mo`` files for tools that
want them.

Fallback: a language that is not shipped falls back, for ``person`` to English then Swedish, for
``console`` to Swedish.  A shipped language is expected to have every id: the catalogue tests fail on
any id it lacks (tests/gateway/test_catalogues.py).  At run time a lacking id is filled from the
fallback languages (a person never gets a raw id) and logged once as a warning, so it is never silent.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType

from babel.messages.pofile import read_po

log = logging.getLogger("gateway.catalogues")

LOCALE_DIR = Path(__file__).with_name("locale")
FALLBACK: Mapping[str, tuple[str, ...]] = MappingProxyType({"person": ("en", "sv"), "console": ("sv",)})
"""The languages an unshipped language falls back to, in order, per domain."""
DOMAINS: tuple[str, ...] = tuple(FALLBACK)
BASE_LANGUAGE = "sv"
"""The language every id is defined in first: the reference for completeness and placeholders."""


def po_path(domain: str, lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po"


def _check_domain(domain: str) -> None:
    if domain not in FALLBACK:
        raise ValueError(f"unknown catalogue domain {domain!r}; one of {', '.join(DOMAINS)}")


@cache
def languages(domain: str) -> tuple[str, ...]:
    """The shipped languages of a domain: Swedish first, then the others in alphabetical order."""
    _check_domain(domain)
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{domain}.po"))
    return tuple(sorted(found, key=lambda lang: (lang != BASE_LANGUAGE, lang)))


@cache
def own_strings(domain: str, lang: str) -> Mapping[str, str]:
    """The ids a shipped language's file translates itself (no fallback; empty and fuzzy entries are
    left out, as gettext does).  Empty for a language that is not shipped."""
    _check_domain(domain)
    path = po_path(domain, lang)
    if not path.exists():
        return MappingProxyType({})
    with path.open("rb") as f:
        catalog = read_po(f, domain=domain, abort_invalid=True)
    words = {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string and not m.fuzzy
    }
    return MappingProxyType(words)


def _chain(domain: str, lang: str) -> tuple[str, ...]:
    own = (lang,) if lang in languages(domain) else ()
    return (*own, *(f for f in FALLBACK[domain] if f != lang))


@cache
def strings(domain: str, lang: str) -> Mapping[str, str]:
    """Every id of the domain in a language (see the module's note on fallback).  Cached per process."""
    _check_domain(domain)
    merged: dict[str, str] = {}
    for fallback in reversed(_chain(domain, lang)):
        merged.update(own_strings(domain, fallback))
    if lang in languages(domain):
        lacking = sorted(set(merged) - set(own_strings(domain, lang)))
        if lacking:
            log.warning(
                "catalogue %s/%s lacks %d ids (shown from %s): %s",
                domain,
                lang,
                len(lacking),
                "/".join(FALLBACK[domain]),
                ", ".join(lacking[:10]),
            )
    return MappingProxyType(merged)


def text(domain: str, lang: str, msgid: str, /, **fmt: object) -> str:
    """One message in a language, formatted with ``fmt`` when given (``str.format`` placeholders)."""
    words = strings(domain, lang)
    try:
        message = words[msgid]
    except KeyError:
        raise KeyError(f"{domain}: no message {msgid!r}") from None
    return message.format(**fmt) if fmt else message


def section(domain: str, lang: str, prefix: str) -> dict[str, str]:
    """The ids under a prefix (``"chat."``), without it: the part of a catalogue a browser script gets."""
    return dict(_section(domain, lang, prefix))


@cache
def _section(domain: str, lang: str, prefix: str) -> Mapping[str, str]:
    # Made once per process: the console asks for its intent and language names on every read of
    # a transcript or the queue, and a scan of the whole catalogue each time showed in profiles.
    return MappingProxyType(
        {k[len(prefix) :]: v for k, v in strings(domain, lang).items() if k.startswith(prefix)}
    )


def browser_catalogue(domain: str, prefix: str) -> dict[str, dict[str, str]]:
    """``{lang: {id: text}}`` of a section for every shipped language (a page's JSON data block)."""
    return {lang: section(domain, lang, prefix) for lang in languages(domain)}


def placeholders(message: str) -> frozenset[str]:
    """The ``str.format`` fields of a message (``{n}``, ``{status}``; ``{}`` counts as ``""``)."""
    return frozenset(field for _, field, _, _ in string.Formatter().parse(message) if field is not None)


ALIASES: Mapping[str, str] = MappingProxyType({"hr": "bs", "sr": "bs"})
"""Languages served by another's catalogue when they have none of their own (Croatian and Serbian
read the Bosnian text)."""


def pick(domain: str, lang: str | None) -> str:
    """A shipped language for a language code (``"en-GB"`` reads as ``"en"``, ``"hr"`` as ``"bs"``
    unless Croatian is shipped, see :data:`ALIASES`); an unknown language
    (none, ``"und"``) is Swedish, a known one that is not shipped the domain's first fallback."""
    code = (lang or "").replace("_", "-").split("-")[0].lower()
    if code not in languages(domain) and ALIASES.get(code) in languages(domain):
        code = ALIASES[code]
    if code in languages(domain):
        return code
    return BASE_LANGUAGE if code in ("", "und") else FALLBACK[domain][0]


def clear_cache() -> None:
    """Forget the parsed files (tests that write a catalogue, ``helpline i18n`` after an update)."""
    for fn in (languages, own_strings, strings, _section):
        fn.cache_clear()
