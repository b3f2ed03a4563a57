"""One entry of the directory's data, checked key by key: a recipient, its area; every problem a
:class:`~handoff.directory.entries.DirectoryError` naming the entry and the key."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from handoff.directory.entries import (
    HANDOFF_METHODS,
    KINDS,
    LANGUAGE_RE,
    TARGET_GROUPS,
    TOPICS,
    DirectoryError,
    HandoffMethod,
    Municipality,
    OpeningHours,
    Recipient,
)


def _err(key: str, problem: str) -> DirectoryError:
    return DirectoryError(key, problem)


def _str(entry: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = entry.get(key)
    if value is None:
        if required:
            raise _err(f"{where}.{key}", "is missing")
        return ""
    if not isinstance(value, str):
        hint = " (write codes and numbers in quotes)" if isinstance(value, int) else ""
        raise _err(f"{where}.{key}", f"must be text, not {value!r}{hint}")
    if required and not value.strip():
        raise _err(f"{where}.{key}", "is empty")
    return value.strip()


def _str_list(
    entry: Mapping[str, Any], key: str, where: str, allowed: Sequence[str] | None = None
) -> tuple[str, ...]:
    value = entry.get(key)
    if value is None:
        raise _err(f"{where}.{key}", "is missing")
    if not isinstance(value, list):
        raise _err(f"{where}.{key}", f"must be a list, not {value!r}")
    items: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise _err(f"{where}.{key}", f"{item!r} must be text (write codes in quotes)")
        if allowed is not None and item not in allowed:
            raise _err(f"{where}.{key}", f"unknown value {item!r}; allowed: {', '.join(allowed)}")
        items.append(item)
    return tuple(items)


def _recipient(entry: Any, where: str, *, recipient_id: str | None = None) -> Recipient:
    if not isinstance(entry, Mapping):
        raise _err(where, f"must be a mapping, not {entry!r}")
    rid = recipient_id if recipient_id is not None else _str(entry, "id", where)
    if not re.fullmatch(r"[a-z0-9][a-z0-9\-]*", rid):
        raise _err(f"{where}.id", f"{rid!r} must be lower-case letters, digits and '-'")
    where = f"{where} ({rid})" if recipient_id is None else where
    names = entry.get("name")
    if not isinstance(names, Mapping):
        raise _err(f"{where}.name", "must have 'sv' and 'en'")
    name_sv = _str(names, "sv", f"{where}.name")
    name_en = _str(names, "en", f"{where}.name")
    kind = _str(entry, "kind", where)
    if kind not in KINDS:
        raise _err(f"{where}.kind", f"unknown kind {kind!r}; allowed: {', '.join(KINDS)}")
    topics = _str_list(entry, "topics", where, TOPICS)
    if not topics:
        raise _err(f"{where}.topics", "needs at least one topic")
    groups = _str_list(entry, "target_groups", where, TARGET_GROUPS)
    if not groups:
        raise _err(f"{where}.target_groups", "needs at least one target group (or 'any')")
    languages = _str_list(entry, "languages", where)
    for lang in languages:
        if not LANGUAGE_RE.match(lang):
            raise _err(f"{where}.languages", f"{lang!r} is not a language code like 'sv'")
    try:
        hours = OpeningHours.parse(_str(entry, "opening_hours", where))
    except ValueError as exc:
        raise _err(f"{where}.opening_hours", str(exc)) from None
    raw_methods = entry.get("handoff", [])
    if not isinstance(raw_methods, list):
        raise _err(f"{where}.handoff", "must be a list of methods")
    methods: list[HandoffMethod] = []
    for i, raw in enumerate(raw_methods):
        mwhere = f"{where}.handoff[{i}]"
        if not isinstance(raw, Mapping):
            raise _err(mwhere, f"must be a mapping like {{method: portal}}, not {raw!r}")
        method = _str(raw, "method", mwhere)
        if method not in HANDOFF_METHODS:
            raise _err(
                f"{mwhere}.method", f"unknown method {method!r}; allowed: {', '.join(HANDOFF_METHODS)}"
            )
        unknown = set(raw) - {"method", *HANDOFF_METHODS[method]}
        if unknown:
            raise _err(mwhere, f"unknown keys {sorted(unknown)} for method {method!r}")
        address = _str(raw, "address", mwhere, required=False)
        url = _str(raw, "url", mwhere, required=False)
        if address and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
            raise _err(f"{mwhere}.address", f"{address!r} is not an e-mail address")
        if url and not re.match(r"https?://[^\s/]+", url):
            raise _err(f"{mwhere}.url", f"{url!r} is not an http(s) URL")
        methods.append(HandoffMethod(method=method, address=address, url=url))
    active = entry.get("active", True)
    if not isinstance(active, bool):
        raise _err(f"{where}.active", f"must be true or false, not {active!r}")
    serves_counties, serves_municipalities = _area(entry.get("serves"), f"{where}.serves")
    return Recipient(
        id=rid,
        name_sv=name_sv,
        name_en=name_en,
        kind=kind,
        topics=topics,
        target_groups=groups,
        languages=languages,
        opening_hours=hours,
        handoff=tuple(methods),
        phone=_str(entry, "phone", where, required=False),
        emergency_phone=_str(entry, "emergency_phone", where, required=False),
        website=_str(entry, "website", where, required=False),
        active=active,
        serves_counties=serves_counties,
        serves_municipalities=serves_municipalities,
    )


def _area(serves: Any, where: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``serves: {counties: [...], municipalities: [...]}`` as two tuples (codes checked later)."""
    if serves is None:
        return (), ()
    if not isinstance(serves, Mapping):
        raise _err(where, "must have 'counties' and/or 'municipalities'")
    unknown = set(serves) - {"counties", "municipalities"}
    if unknown:
        raise _err(where, f"unknown keys {sorted(map(str, unknown))}")
    counties = _str_list({"counties": serves.get("counties") or []}, "counties", where)
    municipalities = _str_list(
        {"municipalities": serves.get("municipalities") or []}, "municipalities", where
    )
    return counties, municipalities


def _check_area(
    counties: Sequence[str], municipalities: Sequence[str], known: Mapping[str, Municipality], where: str
) -> None:
    known_counties = {m.county_code for m in known.values()}
    for c in counties:
        if c not in known_counties:
            raise _err(f"{where}.counties", f"no county with code {c!r}")
    for c in municipalities:
        if c not in known:
            raise _err(f"{where}.municipalities", f"no municipality with code {c!r}")
