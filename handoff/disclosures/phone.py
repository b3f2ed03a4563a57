"""A disclosure passed by phone: the numbers to call, the limits of what is recorded, and the
disclosure as text (also the e-mail's body)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

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


def phone_numbers(recipient: Recipient | None, immediate_danger: bool) -> list[dict[str, Any]]:
    """The numbers to call to pass a disclosure by phone, the first one first, each with why."""
    numbers: list[dict[str, Any]] = []

    def add(number: str, sv: str, en: str) -> None:
        if number and all(n["number"] != number for n in numbers):
            numbers.append({"number": number, "label": {"sv": sv, "en": en}})

    emergency = (recipient.emergency_phone if recipient else "") or EMERGENCY_NUMBER
    if immediate_danger:
        add(emergency, "Akut fara: ring 112 först", "Immediate danger: call 112 first")
    if recipient is not None and recipient.phone:
        add(recipient.phone, recipient.name_sv, recipient.name_en)
    else:
        add(
            POLICE_NUMBER,
            "Polisen (mottagaren har inget nummer i katalogen: be Polisen föra uppgifterna vidare)",
            "The police (the recipient has no number in the directory: ask the police to pass it on)",
        )
    if not immediate_danger:
        add(emergency, "Om det blir akut", "If it becomes urgent")
    return numbers


def package_lines(body: Mapping[str, Any]) -> list[str]:
    """A disclosure as text (Swedish / English): the e-mail's body, and what is read out on the phone."""
    ground = body["legal_ground"]
    certainty = CERTAINTIES.get(str(body["certainty"]), (str(body["certainty"]),) * 2)
    lines = [
        "Uppgifter om brott från stödlinjen / Crime information from the support line",
        "",
        f"Referens / Reference: {body['reference']}",
        f"Akut fara / Immediate danger: {'JA / YES' if body['immediate_danger'] else 'nej / no'}",
        f"Grund / Ground: {ground['sv']} / {ground['en']}",
        f"Godkänd av / Approved by: {body.get('approved_by') or '- (akut fara, granskas i efterhand / immediate danger, reviewed afterwards)'}",
        "",
        f"Vad / What: {body['what']}",
        f"När / When: {body['when'] or '-'}",
        f"Var / Where: {body['where'] or '-'}",
        f"Säkerhet / Certainty: {certainty[0]} / {certainty[1]}",
        "",
        "Källa i samtalet / Source in the conversation:",
        *(f"  [{s['seq']}] {s['text']}" for s in body["sources"]),
    ]
    identity = body.get("identity")
    if identity:
        lines += ["", f"Identitet / Identity ({identity['channel']}): {identity['address'] or '-'}"]
    return lines
