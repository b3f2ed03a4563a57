"""``helpline i18n``: the catalogues' extraction, check and compilation (see :mod:`gateway.catalogues`).

* ``helpline i18n extract`` writes ``gateway/locale/<domain>.pot`` (every id, with its Swedish text
  and where the code uses it, as a template for ``pybabel init`` / ``pybabel update``) and fails
  listing ids the code uses that the catalogue lacks.
* ``helpline i18n check`` fails on a shipped language lacking an id, or with other placeholders.
* ``helpline i18n compile`` writes a ``.mo`` beside each ``.po`` (the gateway reads the ``.po``
  files itself; the ``.mo`` files are for other gettext tools).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from gateway import catalogues
from gateway.catalogue_usage import uses


def missing_uses() -> list[str]:
    """``domain: id (where)`` for each id used in the code but absent from the Swedish catalogue."""
    return [
        f"{domain}: {msgid} ({where})"
        for domain, msgid, where in uses()
        if msgid not in catalogues.own_strings(domain, catalogues.BASE_LANGUAGE)
    ]


def problems() -> list[str]:
    """A shipped language lacking an id another has, or a translation with other placeholders."""
    found: list[str] = []
    for domain in catalogues.DOMAINS:
        shipped = catalogues.languages(domain)
        every = set().union(*(catalogues.own_strings(domain, lang) for lang in shipped)) if shipped else set()
        base = catalogues.own_strings(domain, catalogues.BASE_LANGUAGE)
        for lang in shipped:
            own = catalogues.own_strings(domain, lang)
            found.extend(f"{domain}/{lang}: lacks {msgid}" for msgid in sorted(every - set(own)))
            for msgid, message in own.items():
                if msgid in base and catalogues.placeholders(message) != catalogues.placeholders(base[msgid]):
                    found.append(
                        f"{domain}/{lang}: {msgid} has placeholders {sorted(catalogues.placeholders(message))}, "
                        f"Swedish {sorted(catalogues.placeholders(base[msgid]))}"
                    )
    return found


def cmd_extract(args: argparse.Namespace) -> int:
    where: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for domain, msgid, place in uses():
        path, _, line = place.rpartition(":")
        where[(domain, msgid)].append((path, int(line)))
    for domain in catalogues.DOMAINS:
        template = Catalog(domain=domain, project="helpline-gateway", fuzzy=False)
        for msgid, swedish in catalogues.own_strings(domain, catalogues.BASE_LANGUAGE).items():
            template.add(
                msgid, "", locations=where.get((domain, msgid), []), auto_comments=[f"sv: {swedish}"]
            )
        pot = catalogues.LOCALE_DIR / f"{domain}.pot"
        with pot.open("wb") as f:
            write_po(f, template, width=0, sort_output=False)
        print(f"{pot}: {len(template)} ids")
    lacking = missing_uses()
    for line in lacking:
        print(f"used but not in the catalogue: {line}")
    return 1 if lacking else 0


def cmd_check(args: argparse.Namespace) -> int:
    found = problems() + [f"used but not in the catalogue: {line}" for line in missing_uses()]
    for line in found:
        print(line)
    if not found:
        print(
            "catalogues complete: "
            + ", ".join(f"{d} {'/'.join(catalogues.languages(d))}" for d in catalogues.DOMAINS)
        )
    return 1 if found else 0


def cmd_compile(args: argparse.Namespace) -> int:
    for domain in catalogues.DOMAINS:
        for lang in catalogues.languages(domain):
            po = catalogues.po_path(domain, lang)
            with po.open("rb") as f:
                catalog = read_po(f, locale=lang, domain=domain)
            mo = po.with_suffix(".mo")
            with mo.open("wb") as f:
                write_mo(f, catalog)
            print(f"{mo}")
    return 0


def register(sub: Any) -> None:
    i18n = sub.add_parser("i18n", help="the gettext catalogues").add_subparsers(
        dest="i18n_command", required=True
    )
    extract = i18n.add_parser(
        "extract", help="write gateway/locale/<domain>.pot; fail on ids used but absent"
    )
    extract.set_defaults(func=cmd_extract)
    check = i18n.add_parser("check", help="fail on a language lacking an id, or with other placeholders")
    check.set_defaults(func=cmd_check)
    compile_ = i18n.add_parser("compile", help="write a .mo beside each .po (for other gettext tools)")
    compile_.set_defaults(func=cmd_compile)
