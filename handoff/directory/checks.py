"""The directory admin's form checks: every input field by field (:class:`FieldErrors`, field ->
code, nothing stored on any error)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from handoff.directory.catalog import Directory
from handoff.directory.entries import (
    DISCLOSURE_RECIPIENTS,
    KINDS,
    LANGUAGE_RE,
    SOCIAL_SERVICES_PREFIX,
    TARGET_GROUPS,
    TOPICS,
    Kunskapshus,
    OpeningHours,
)
from handoff.directory.overrides import (
    email_ok,
    webhook_url_problem,
)
from handoff.directory.service import DirectoryService, FieldErrors

REQUIRED_RECIPIENTS: frozenset[str] = frozenset(DISCLOSURE_RECIPIENTS)
"""Recipients crime information goes to: they cannot be deactivated."""
RESERVED_PREFIXES = (SOCIAL_SERVICES_PREFIX, "kunskapshus-")
MAX_NAME = 200
MAX_PHONE = 40
MAX_URL = 500
MAX_LANGUAGES = 12
PHONE_RE = re.compile(r"[0-9+][0-9 ()\-]*")
ID_RE = re.compile(r"[a-z0-9][a-z0-9\-]{1,62}")
WEBSITE_RE = re.compile(r"https?://[^\s/]+[^\s]*")
HISTORY_LIMIT = 200


# ---------------------------------------------------------------------- checking the form
def _text(body: Mapping[str, Any], key: str, errors: dict[str, str], *, required: bool, limit: int) -> str:
    value = body.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[key] = "invalid"
        return ""
    text = " ".join(value.split())
    if required and not text:
        errors[key] = "required"
    elif len(text) > limit:
        errors[key] = "too_long"
    return text


def _choices(
    body: Mapping[str, Any], key: str, allowed: Sequence[str], unknown: str, errors: dict[str, str]
) -> list[str]:
    value = body.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors[key] = "required" if value in (None, "", []) else "invalid"
        return []
    chosen: list[str] = []
    for item in value:
        if item not in allowed:
            errors[key] = unknown
            return []
        if item not in chosen:
            chosen.append(item)
    if not chosen:
        errors[key] = "required"
    return chosen


def _languages(body: Mapping[str, Any], errors: dict[str, str]) -> list[str]:
    value = body.get("languages")
    if isinstance(value, str):
        value = [v for v in re.split(r"[\s,]+", value) if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors["languages"] = "invalid"
        return []
    found: list[str] = []
    for item in value:
        code = item.strip().lower()
        if not LANGUAGE_RE.fullmatch(code):
            errors["languages"] = "invalid_language"
            return []
        if code not in found:
            found.append(code)
    if not found:
        errors["languages"] = "required"
    elif len(found) > MAX_LANGUAGES:
        errors["languages"] = "too_long"
    return found


def check_recipient(
    body: Mapping[str, Any],
    service: DirectoryService,
    rid: str,
    *,
    current: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The entry (every key, as ``entry_data`` writes it) from a form, or :class:`FieldErrors`."""
    errors: dict[str, str] = {}
    section = service.section(rid) if current is not None else "recipient"
    data: dict[str, Any] = {}
    data["name"] = {
        "sv": _text(body, "name_sv", errors, required=True, limit=MAX_NAME),
        "en": _text(body, "name_en", errors, required=True, limit=MAX_NAME),
    }
    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        errors["kind"] = "unknown_kind"
    elif section != "recipient" and kind != "municipal":
        errors["kind"] = "kind_fixed"
    data["kind"] = kind
    data["topics"] = _choices(body, "topics", TOPICS, "unknown_topic", errors)
    data["target_groups"] = _choices(body, "target_groups", TARGET_GROUPS, "unknown_target_group", errors)
    data["languages"] = _languages(body, errors)
    hours = _text(body, "opening_hours", errors, required=True, limit=200)
    if "opening_hours" not in errors:
        try:
            hours = OpeningHours.parse(hours).spec
        except ValueError:
            errors["opening_hours"] = "invalid_opening_hours"
    data["opening_hours"] = hours
    for key in ("phone", "emergency_phone"):
        number = _text(body, key, errors, required=False, limit=MAX_PHONE)
        if number and key not in errors and not PHONE_RE.fullmatch(number):
            errors[key] = "invalid_phone"
        data[key] = number
    website = _text(body, "website", errors, required=False, limit=MAX_URL)
    if website and "website" not in errors and not WEBSITE_RE.fullmatch(website):
        errors["website"] = "invalid_url"
    data["website"] = website
    data["handoff"] = _methods(body, service, rid, section, current, errors)
    active = body.get("active", current.get("active", True) if current else True)
    if not isinstance(active, bool):
        errors["active"] = "invalid"
    elif not active and rid in REQUIRED_RECIPIENTS:
        errors["active"] = "required_recipient"
    data["active"] = active
    if section == "kunskapshus":  # its area has a form of its own (``/area``)
        if current is not None and "serves" in current:
            data["serves"] = current["serves"]
    elif section == "recipient":
        area = _recipient_area(body, service, rid, kind, current, errors)
        if area is not None:
            data["serves"] = area
    if errors:
        raise FieldErrors(errors)
    return data


def _methods(
    body: Mapping[str, Any],
    service: DirectoryService,
    rid: str,
    section: str,
    current: Mapping[str, Any] | None,
    errors: dict[str, str],
) -> list[dict[str, str]]:
    raw = body.get("methods", {})
    if not isinstance(raw, Mapping):
        errors["methods"] = "invalid"
        return []
    portal = raw.get("portal", False)
    email = raw.get("email", "") or ""
    url = raw.get("webhook", "") or ""
    if not isinstance(portal, bool):
        errors["portal"] = "invalid"
    if not isinstance(email, str):
        errors["email"] = "invalid"
        email = ""
    if not isinstance(url, str):
        errors["webhook"] = "invalid"
        url = ""
    email, url = email.strip(), url.strip()
    methods: list[dict[str, str]] = []
    if portal is True:
        if section == "recipient":
            errors["portal"] = "portal_not_available"
        methods.append({"method": "portal"})
    if email:
        if not email_ok(email):
            errors["email"] = "invalid_email"
        methods.append({"method": "email", "address": email})
    if url:
        problem = webhook_url_problem(url)
        if problem is not None:
            errors["webhook"] = problem
        elif not service.webhook_secrets.get(rid):
            errors["webhook"] = "webhook_needs_secret"
        methods.append({"method": "webhook", "url": url})
    if rid in service.methods:
        configured = [m.to_dict() for m in service.methods[rid]]
        if _method_set(methods) != _method_set(configured):
            errors["methods"] = "methods_set_by_configuration"
        return configured
    return methods


def _method_set(methods: Sequence[Mapping[str, str]]) -> set[tuple[tuple[str, str], ...]]:
    return {tuple(sorted(m.items())) for m in methods}


def _area_codes(body: Mapping[str, Any], d: Directory, errors: dict[str, str]) -> tuple[list[str], list[str]]:
    """``counties`` and ``municipalities`` of an area form, checked (into ``errors``), sorted, and
    without the municipalities of counties chosen whole."""
    counties = body.get("counties", [])
    munis = body.get("municipalities", [])
    known_counties = {c.code for c in d.counties()}
    if not isinstance(counties, list) or not all(isinstance(c, str) for c in counties):
        errors["counties"] = "invalid"
        counties = []
    elif any(c not in known_counties for c in counties):
        errors["counties"] = "unknown_county"
    if not isinstance(munis, list) or not all(isinstance(m, str) for m in munis):
        errors["municipalities"] = "invalid"
        munis = []
    elif any(d.municipality(m) is None for m in munis):
        errors["municipalities"] = "unknown_municipality"
    counties = sorted(set(counties) & known_counties)
    munis = sorted({m for m in munis if d.municipality(m) is not None and m[:2] not in counties})
    return counties, munis


def _recipient_area(
    body: Mapping[str, Any],
    service: DirectoryService,
    rid: str,
    kind: Any,
    current: Mapping[str, Any] | None,
    errors: dict[str, str],
) -> dict[str, list[str]] | None:
    """The area of a recipient (not a Kunskapshus or social services) from its form: ``serves``
    with ``counties`` and ``municipalities`` (empty lists: none; left out: as it was).  A municipal
    recipient needs one (routing proposes it only there); the recipients of crime information
    serve the whole country."""
    raw = body.get("serves")
    if raw is None:
        kept = current.get("serves") if current is not None else None
        area = dict(kept) if isinstance(kept, Mapping) else None
    elif not isinstance(raw, Mapping):
        errors["area"] = "invalid"
        return None
    else:
        counties, munis = _area_codes(raw, service.directory, errors)
        area = {"counties": counties, "municipalities": munis} if counties or munis else None
    if area is not None and rid in REQUIRED_RECIPIENTS:
        errors["area"] = "area_not_for_required"
    elif area is None and kind == "municipal" and not {"counties", "municipalities"} & set(errors):
        errors["area"] = "area_required"
    return area


def check_area(
    body: Mapping[str, Any], service: DirectoryService, house: Kunskapshus
) -> dict[str, list[str]]:
    """The area of a Kunskapshus from a form: whole counties and single municipalities."""
    d = service.directory
    errors: dict[str, str] = {}
    counties, munis = _area_codes(body, d, errors)
    if errors:
        raise FieldErrors(errors)
    area = [m for m in d.municipalities.values() if m.county_code in counties or m.code in munis]
    if not area:
        raise FieldErrors({"municipalities": "area_empty"})
    clashes = []
    for other in d.kunskapshus:
        if other.id == house.id:
            continue
        for m in area:
            if other.serves(m):
                clashes.append(f"{m.code} {m.name} ({other.recipient.name_sv})")
    if clashes:
        raise FieldErrors({"municipalities": "area_overlap"}, "; ".join(clashes[:20]))
    return {"counties": counties, "municipalities": munis}
