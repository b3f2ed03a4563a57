"""A disclosure passed by phone: the numbers to call, the limits of what is recorded, and the
disclosure as text (also the e-mail's body)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from gateway import catalogues
from handoff.directory.entries import Recipient
from handoff.disclosures.models import DisclosureStatus
from handoff.disclosures.strings import CERTAINTIES

D = DisclosureStatus

EMERGENCY_NUMBER = "112"
POLICE_NUMBER = "114 14"
"""The police's number for what is not an emergency."""
BY_PHONE = frozenset({D.AWAITING_MANUAL.value, D.DELIVERY_FAILED.value})
"""The statuses from which someone may record that they passed a disclosure by phone."""
PHONE_RE = re.compile(r"[0-9+][0-9 ()\-]{1,38}")
MAX_REFERENCE_CHARS = 100
MAX_NOTE_CHARS = 2000
CLOCK_SLACK = timedelta(minutes=5)


def _words(msgid: str) -> tuple[str, str]:
    """One message of the console catalogue in Swedish and in English."""
    sv, en = (catalogues.text("console", lang, msgid) for lang in ("sv", "en"))
    return sv, en


def _both(key: str) -> str:
    """Words of the disclosure package (``disclosure_package.<key>``): Swedish / English."""
    return " / ".join(_words(f"disclosure_package.{key}"))


def mail_subject(reference: str) -> str:
    """The disclosure e-mail's subject."""
    return f"{_both('subject')} {reference[:8]}"


def phone_numbers(recipient: Recipient | None, immediate_danger: bool) -> list[dict[str, Any]]:
    """The numbers to call to pass a disclosure by phone, the first one first, each with why."""
    numbers: list[dict[str, Any]] = []

    def add(number: str, sv: str, en: str) -> None:
        if number and all(n["number"] != number for n in numbers):
            numbers.append({"number": number, "label": {"sv": sv, "en": en}})

    emergency = (recipient.emergency_phone if recipient else "") or EMERGENCY_NUMBER
    if immediate_danger:
        add(emergency, *_words("disclosure_phone.emergency_first"))
    if recipient is not None and recipient.phone:
        add(recipient.phone, recipient.name_sv, recipient.name_en)
    else:
        add(POLICE_NUMBER, *_words("disclosure_phone.police_no_number"))
    if not immediate_danger:
        add(emergency, *_words("disclosure_phone.if_urgent"))
    return numbers


def package_lines(body: Mapping[str, Any]) -> list[str]:
    """A disclosure as text (Swedish / English): the e-mail's body, and what is read out on the phone."""
    ground = body["legal_ground"]
    certainty = CERTAINTIES.get(str(body["certainty"]), (str(body["certainty"]),) * 2)
    danger = _both("yes") if body["immediate_danger"] else _both("no")
    lines = [
        _both("title"),
        "",
        f"{_both('reference')}: {body['reference']}",
        f"{_both('immediate_danger')}: {danger}",
        f"{_both('ground')}: {ground['sv']} / {ground['en']}",
        f"{_both('approved_by')}: {body.get('approved_by') or _both('not_approved')}",
        "",
        f"{_both('what')}: {body['what']}",
        f"{_both('when')}: {body['when'] or '-'}",
        f"{_both('where')}: {body['where'] or '-'}",
        f"{_both('certainty')}: {certainty[0]} / {certainty[1]}",
        "",
        f"{_both('sources')}:",
        *(f"  [{s['seq']}] {s['text']}" for s in body["sources"]),
    ]
    identity = body.get("identity")
    if identity:
        lines += ["", f"{_both('identity')} ({identity['channel']}): {identity['address'] or '-'}"]
    return lines
