"""Layers over the shipped directory: the deployment's ``handoff.recipient_methods``
(:func:`parse_recipient_methods`) and the admins' edits kept in the database
(:func:`apply_overrides`; see :mod:`handoff.directory.service`)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.errors import ConfigError
from handoff.directory.catalog import Directory
from handoff.directory.entries import (
    HANDOFF_METHODS,
    SOCIAL_SERVICES_PREFIX,
    HandoffMethod,
    Kunskapshus,
    Recipient,
)
from handoff.directory.loading import build_directory
from handoff.directory.parsing import _err

EMAIL_RE = re.compile(r"[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[A-Za-z]{2,63}")
LOOPBACK_HOSTS = frozenset({"localhost"})


def email_ok(address: str) -> bool:
    """A plain e-mail address (``name@domain.tld``), at most 254 characters."""
    return len(address) <= 254 and EMAIL_RE.fullmatch(address) is not None


def webhook_url_problem(url: str) -> str | None:
    """Why ``url`` may not receive signed webhooks, or None.

    Webhooks carry crime information and referrals: they go over https only.  Plain http is
    accepted only to this machine (``localhost``, ``127.0.0.1``, ``::1``), for tests and a local
    relay.
    """
    from urllib.parse import urlsplit

    if len(url) > 2000 or any(ch.isspace() for ch in url):
        return "invalid_url"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        return "invalid_url"
    if parts.scheme not in ("https", "http") or not host or parts.username or parts.password:
        return "invalid_url"
    if parts.scheme == "http":
        loopback = host in LOOPBACK_HOSTS
        try:
            loopback = loopback or ipaddress.ip_address(host).is_loopback
        except ValueError:
            pass
        if not loopback:
            return "webhook_not_https"
    return None


def parse_recipient_methods(
    section: Mapping[str, Any], *, webhook_secrets: Mapping[str, Any] | None = None
) -> dict[str, tuple[HandoffMethod, ...]]:
    """``handoff.recipient_methods`` of the configuration: recipient id -> list of methods.

    For example, to have crime information to the police delivered by e-mail::

        handoff:
          recipient_methods:
            polisen: [{method: email, address: tips@polisen.example}]

    The methods replace the recipient's shipped ones (the admins' edits cannot change them).  A
    webhook needs https and a shared secret in ``handoff.webhook_secrets``.  Raises
    :class:`~gateway.errors.ConfigError` naming the key.
    """
    key = "handoff.recipient_methods"
    if not isinstance(section, Mapping):
        raise ConfigError(key, "must be a mapping of recipient id to a list of methods")
    secrets = webhook_secrets or {}
    found: dict[str, tuple[HandoffMethod, ...]] = {}
    for rid, raw in section.items():
        where = f"{key}.{rid}"
        if not isinstance(rid, str) or not re.fullmatch(r"[a-z0-9][a-z0-9\-]*", rid):
            raise ConfigError(where, "is not a recipient id (lower-case letters, digits and '-')")
        if not isinstance(raw, list):
            raise ConfigError(where, "must be a list like [{method: email, address: name@example.org}]")
        methods: list[HandoffMethod] = []
        for i, item in enumerate(raw):
            mwhere = f"{where}[{i}]"
            if not isinstance(item, Mapping):
                raise ConfigError(
                    mwhere, f"must be a mapping like {{method: email, address: ...}}, not {item!r}"
                )
            method = item.get("method")
            if method not in HANDOFF_METHODS:
                raise ConfigError(f"{mwhere}.method", f"must be one of {', '.join(HANDOFF_METHODS)}")
            unknown = set(item) - {"method", *HANDOFF_METHODS[str(method)]}
            if unknown:
                raise ConfigError(mwhere, f"unknown keys {sorted(map(str, unknown))} for method {method!r}")
            if any(m.method == method for m in methods):
                raise ConfigError(f"{mwhere}.method", f"{method!r} is given twice")
            if method == "email":
                address = item.get("address")
                if not isinstance(address, str) or not email_ok(address.strip()):
                    raise ConfigError(f"{mwhere}.address", f"{address!r} is not an e-mail address")
                methods.append(HandoffMethod("email", address=address.strip()))
            elif method == "webhook":
                url = item.get("url")
                problem = webhook_url_problem(url.strip()) if isinstance(url, str) else "invalid_url"
                if problem is not None:
                    why = "must use https" if problem == "webhook_not_https" else "is not a URL"
                    raise ConfigError(f"{mwhere}.url", f"{url!r} {why}")
                if not secrets.get(rid):
                    raise ConfigError(
                        f"handoff.webhook_secrets.{rid}", "is required for the webhook of this recipient"
                    )
                assert isinstance(url, str)
                methods.append(HandoffMethod("webhook", url=url.strip()))
            else:
                methods.append(HandoffMethod("portal"))
        found[rid] = tuple(methods)
    return found


OVERRIDE_KEYS = frozenset(
    {
        "name",
        "kind",
        "topics",
        "target_groups",
        "languages",
        "opening_hours",
        "phone",
        "emergency_phone",
        "website",
        "handoff",
        "active",
        "serves",
    }
)
"""What an admin's edit may set: the keys of an entry (the area, ``serves``, of a Kunskapshus or of
a local recipient too), not its id or a Kunskapshus's host."""


def entry_data(recipient: Recipient, house: Kunskapshus | None = None) -> dict[str, Any]:
    """An entry with every editable key written out (``active`` and ``emergency_phone`` too), to
    compare an edit with it; ``serves`` for a Kunskapshus and for a recipient with an area."""
    data = recipient.to_dict()
    data.pop("id")
    data["emergency_phone"] = recipient.emergency_phone
    data["active"] = recipient.active
    if house is not None:
        data["serves"] = {
            "counties": list(house.serves_counties),
            "municipalities": list(house.serves_municipalities),
        }
    return data


def apply_overrides(
    base: Directory,
    overrides: Mapping[str, Mapping[str, Any]],
    methods: Mapping[str, Sequence[HandoffMethod]] | None = None,
) -> Directory:
    """The directory with the admins' edits and the deployment's methods on top of ``base``.

    ``overrides`` maps a recipient id to the keys an admin changed (:data:`OVERRIDE_KEYS`, written
    as in :meth:`Recipient.to_dict`; the area of a Kunskapshus or of a local recipient as
    ``serves``, where empty lists take a local recipient's area away).  For an id of ``base``
    they are laid over its entry, so that keys nobody edited follow the shipped data (a social
    services id ``socialtjanst-<code>`` edits the generated entry); another id is a recipient an
    admin added, and its override is the whole entry.  ``methods`` (``handoff.recipient_methods``)
    then replace the handoff methods of their recipients.  The result is validated like the
    shipped files (:class:`DirectoryError`).
    """
    recipients_data = base.recipients_data()
    kunskapshus_data = base.kunskapshus_data()
    explicit: list[dict[str, Any]] = recipients_data["recipients"]
    houses: list[dict[str, Any]] = kunskapshus_data["kunskapshus"]

    def find(rid: str) -> tuple[list[dict[str, Any]], int] | None:
        for entries in (explicit, houses):
            for i, entry in enumerate(entries):
                if entry["id"] == rid:
                    return entries, i
        return None

    def edit(rid: str, changes: Mapping[str, Any]) -> None:
        where = find(rid)
        if where is None:
            generated = base.entry(rid) if rid.startswith(SOCIAL_SERVICES_PREFIX) else None
            explicit.append(generated.to_dict() if generated is not None else {"id": rid})
            where = explicit, len(explicit) - 1
        entries, i = where
        entry = dict(entries[i])
        for key, value in changes.items():
            if key == "serves" and rid.startswith(SOCIAL_SERVICES_PREFIX):
                raise _err(
                    f"override {rid}.serves", "a municipality's social services serve their own municipality"
                )
            entry[key] = value
        entry["id"] = rid
        entries[i] = entry

    for rid, data in overrides.items():
        unknown = set(data) - OVERRIDE_KEYS
        if unknown:
            raise _err(f"override {rid}", f"unknown keys {sorted(unknown)}")
        edit(rid, data)
    for rid, given in (methods or {}).items():
        if find(rid) is not None or base.entry(rid) is not None:
            edit(rid, {"handoff": [m.to_dict() for m in given]})
    return build_directory(base.municipalities, kunskapshus_data, recipients_data)
