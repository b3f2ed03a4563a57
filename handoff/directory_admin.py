"""Admins edit the directory of recipients in the console (``/console/directory``).

The shipped data (:mod:`handoff.directory`, ``handoff/data/``) stays as it is; an admin's edit is
kept in the database as an *override* of the keys they changed (:class:`DirectoryOverride`), so
that keys nobody edited follow the shipped data of a later release.  Admins may

* list and search every recipient (national, regional, civil society, the Kunskapshus and the
  290 municipalities' social services),
* add a recipient, edit one (names, kind, topics, target groups, languages, opening hours, phone
  numbers, web site, and how it receives handoffs: portal, e-mail, signed webhook), deactivate and
  activate it, or return it to the shipped data,
* change which counties and municipalities a Kunskapshus serves (its own form; a municipality
  belongs to one Kunskapshus at most), or give another recipient an area of its own (``serves``,
  saved with the entry; areas may overlap): a municipal or regional unit or a local organisation
  is then proposed among the local recipients, and only there (:mod:`handoff.routing`).  A
  municipal recipient needs an area; the recipients of crime information serve the whole country.

Every input is checked field by field (422 with ``fields``: field -> code, nothing stored on any
error); an edit carries the ``revision`` of the entry it started from (409 ``edited_meanwhile``
when someone else saved in between).  Every change is audited (``directory.*``: who, the entry
before and after, the keys changed) in the transaction that stores it.

**Every process applies every edit.**  Each gateway process keeps its own copy of the directory,
the one its referrals and disclosures use (``HandoffOptions.directory``), and lays the overrides
over the directory it started with.  An edit raises the counter in ``directory_version`` in its
transaction; a process reloads when the counter differs from what it loaded: before each handoff
request (one small SELECT), on the fan-out topic ``directory`` (published after the commit), before
a disclosure is delivered, and every ``handoff.directory_check_seconds`` (the fan-out is best
effort).

The deployment's ``handoff.recipient_methods`` (e.g. an e-mail address for crime information to
the police) lie on top of everything and cannot be changed here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.appkeys import BROKER, DB, SETTINGS
from gateway.broker.base import Broker, Event, Subscription
from gateway.envelope import utcnow
from gateway.errors import ConfigError
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import AuditEvent, Role, StaffUser
from gateway.tasks import cancel_and_wait

from .console import ConsoleRoute, guarded
from .console.security import Staff
from .console.views import json_body, render
from .directory import (
    HANDOFF_METHODS,
    KINDS,
    LANGUAGE_RE,
    SOCIAL_SERVICES_PREFIX,
    TARGET_GROUPS,
    TOPICS,
    Directory,
    DirectoryError,
    HandoffMethod,
    Kunskapshus,
    OpeningHours,
    Recipient,
    apply_overrides,
    default_directory,
    email_ok,
    entry_data,
    fold,
    parse_recipient_methods,
    webhook_url_problem,
)
from .disclosure import RECIPIENTS as DISCLOSURE_RECIPIENTS
from .handoff_models import DirectoryOverride, DirectoryVersion

log = logging.getLogger(__name__)

TOPIC_DIRECTORY = "directory"
CHECK_SECONDS = 10.0
"""Every process compares its directory with the database this often (the fan-out is best effort)."""
ADMIN_ROLES = frozenset({Role.ADMIN.value})
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

API = "/console/api/directory"
RID = "{recipient_id:[a-z0-9][a-z0-9-]{0,63}}"

# Requests that read the directory: the process compares its directory with the database first
# (also the portal's page and the situational picture, which show a Kunskapshus's area, and the
# documentation form, which knows the recipients).
_DIRECTORY_PATHS = re.compile(
    r"^/console/(api/(handoff|referrals|disclosures|directory)/|portal/api/|portal$)"
    r"|^/portal/api/situation$"
    r"|^/console/api/conversations/[0-9a-f]{32}/(referrals|disclosures|documentation)$"
)


# ---------------------------------------------------------------------- errors
class FieldErrors(Exception):
    """Input that is refused: field -> error code (the console shows ``dir_err_<code>``)."""

    def __init__(self, fields: Mapping[str, str], detail: str = "") -> None:
        super().__init__(dict(fields))
        self.fields = dict(fields)
        self.detail = detail


class Refused(Exception):
    """A request refused as a whole: HTTP status and error code."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


# ---------------------------------------------------------------------- the live directory
@dataclass
class Loaded:
    """One override as this process loaded it."""

    data: dict[str, Any]
    revision: int


class DirectoryService:
    """This process's directory: the one it started with, the configured methods and the admins'
    overrides from the database, kept current (see the module's documentation)."""

    def __init__(self, methods: Mapping[str, tuple[HandoffMethod, ...]]) -> None:
        self.methods = dict(methods)
        self.base: Directory = default_directory()
        self.live: Directory | None = None
        self.db: Database | None = None
        self.broker: Broker | None = None
        self.webhook_secrets: Mapping[str, str] = {}
        self.version = -1
        self.overrides: dict[str, Loaded] = {}
        self._lock = asyncio.Lock()

    def attach(
        self,
        db: Database,
        broker: Broker,
        base: Directory,
        live: Directory,
        webhook_secrets: Mapping[str, str],
    ) -> None:
        self.db, self.broker, self.base, self.live = db, broker, base, live
        self.webhook_secrets = webhook_secrets

    @property
    def directory(self) -> Directory:
        if self.live is None:
            raise RuntimeError("the directory service has not started")
        return self.live

    # -- loading ----------------------------------------------------------------------------------
    async def _version(self, session: AsyncSession) -> int:
        found = await session.scalar(select(DirectoryVersion.version).where(DirectoryVersion.id == 1))
        return int(found or 0)

    async def refresh(self) -> bool:
        """Reload when the database's version differs from the loaded one; whether it reloaded."""
        if self.db is None or self.live is None:
            return False
        async with self.db.session() as session:
            if await self._version(session) == self.version:
                return False
        async with self._lock:
            async with self.db.session() as session:
                # The version first: an edit committed after it is seen at the next check.
                version = await self._version(session)
                if version == self.version:
                    return False
                rows = (await session.execute(select(DirectoryOverride))).scalars().all()
                loaded = {r.recipient_id: Loaded(dict(r.data or {}), int(r.revision)) for r in rows}
            self.live.install(self._build(loaded))
            self.overrides = loaded
            self.version = version
            log.info("directory: loaded version %d (%d overrides)", version, len(loaded))
            return True

    def _build(self, loaded: Mapping[str, Loaded]) -> Directory:
        overrides = {rid: o.data for rid, o in loaded.items()}
        try:
            return apply_overrides(self.base, overrides, self.methods)
        except DirectoryError as exc:
            log.error(
                "directory: the stored edits do not fit the directory (%s); checking them one by one", exc
            )
        kept: dict[str, Mapping[str, Any]] = {}
        for rid, data in overrides.items():
            try:
                apply_overrides(self.base, {**kept, rid: data}, self.methods)
            except DirectoryError as exc:
                log.error("directory: ignoring the stored edit of %s: %s", rid, exc)
                continue
            kept[rid] = data
        return apply_overrides(self.base, kept, self.methods)

    async def on_event(self, event: Event) -> None:
        await self.refresh()

    async def check_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception as exc:
                log.warning("directory: periodic check failed (%s)", type(exc).__name__)

    async def refresh_quietly(self) -> None:
        """Refresh, logging (not raising) a failure: a handoff is never refused for it."""
        try:
            await self.refresh()
        except Exception as exc:
            log.warning("directory: could not compare with the database (%s)", type(exc).__name__)

    # -- reading ----------------------------------------------------------------------------------
    def section(self, rid: str) -> str:
        d = self.directory
        if d.kunskapshus_by_id(rid) is not None:
            return "kunskapshus"
        if rid.startswith(SOCIAL_SERVICES_PREFIX) and (r := d.entry(rid)) and r.municipality_code:
            return "social_services"
        return "recipient"

    def shipped(self, rid: str) -> Recipient | None:
        return self.base.entry(rid)

    def revision(self, rid: str) -> int:
        found = self.overrides.get(rid)
        return found.revision if found else 0

    def full_data(self, rid: str) -> dict[str, Any] | None:
        r = self.directory.entry(rid)
        if r is None:
            return None
        return entry_data(r, self.directory.kunskapshus_by_id(rid))

    # -- writing ----------------------------------------------------------------------------------
    async def save(
        self,
        user: StaffUser,
        rid: str,
        full: dict[str, Any],
        *,
        revision: int,
        action: str,
        creating: bool = False,
    ) -> dict[str, Any]:
        """Store the entry ``full`` (every key) as an override of what differs from the shipped
        entry, audit it with the entry before and after, raise the version, reload, announce."""
        assert self.db is not None
        shipped = self.shipped(rid)
        base_data = entry_data(shipped, self.base.kunskapshus_by_id(rid)) if shipped else None
        changes = (
            {k: v for k, v in full.items() if base_data.get(k) != v} if base_data is not None else dict(full)
        )
        if base_data is not None and "serves" in base_data and "serves" not in full:
            changes["serves"] = {"counties": [], "municipalities": []}  # the shipped area taken away
        if rid in self.methods:  # the configuration's methods are not the admins' to keep
            changes.pop("handoff", None)
        # The whole result must still be a valid directory (e.g. no area served twice).
        trial = {rid: o.data for rid, o in self.overrides.items()}
        trial[rid] = changes
        try:
            apply_overrides(self.base, trial, self.methods)
        except DirectoryError as exc:
            raise FieldErrors({"_": "invalid_entry"}, str(exc)) from None
        before = None if creating else self.full_data(rid)
        now = utcnow()
        try:
            async with self.db.session() as session:
                row = await session.get(DirectoryOverride, rid, with_for_update=True)
                current = int(row.revision) if row is not None else 0
                if current != revision or (creating and (row is not None or shipped is not None)):
                    raise Refused(409, "edited_meanwhile" if not creating else "id_taken")
                if row is None:
                    session.add(
                        DirectoryOverride(
                            recipient_id=rid, data=changes, revision=1, updated_at=now, updated_by=user.id
                        )
                    )
                    new_revision = 1
                else:
                    row.data = changes
                    row.revision = current + 1
                    row.updated_at = now
                    row.updated_by = user.id
                    new_revision = current + 1
                version = await self._bump(session)
                await repo.audit(
                    session,
                    action,
                    actor=user,
                    details={
                        "recipient_id": rid,
                        "before": before,
                        "after": full,
                        "changed": sorted(k for k in full if (before or {}).get(k) != full[k]),
                        "revision": new_revision,
                        "directory_version": version,
                    },
                )
        except IntegrityError:
            raise Refused(409, "edited_meanwhile") from None
        await self._announce()
        return {"revision": new_revision, "version": version}

    async def reset(self, user: StaffUser, rid: str, *, revision: int) -> dict[str, Any]:
        """Return a shipped recipient to the shipped data (its override is deleted)."""
        assert self.db is not None
        before = self.full_data(rid)
        shipped = self.shipped(rid)
        if shipped is None:
            raise Refused(409, "added_recipient")
        after = entry_data(shipped, self.base.kunskapshus_by_id(rid))
        if rid in self.methods:
            after["handoff"] = [m.to_dict() for m in self.methods[rid]]
        async with self.db.session() as session:
            row = await session.get(DirectoryOverride, rid, with_for_update=True)
            if row is None or int(row.revision) != revision:
                raise Refused(409, "edited_meanwhile" if row is not None or revision else "not_edited")
            await session.execute(delete(DirectoryOverride).where(DirectoryOverride.recipient_id == rid))
            version = await self._bump(session)
            await repo.audit(
                session,
                "directory.recipient_reset",
                actor=user,
                details={
                    "recipient_id": rid,
                    "before": before,
                    "after": after,
                    "changed": sorted(k for k in after if (before or {}).get(k) != after[k]),
                    "directory_version": version,
                },
            )
        await self._announce()
        return {"revision": 0, "version": version}

    async def _bump(self, session: AsyncSession) -> int:
        """Raise the version in the caller's transaction (the row lock orders concurrent edits)."""
        now = utcnow()
        changed = await session.execute(
            update(DirectoryVersion)
            .where(DirectoryVersion.id == 1)
            .values(version=DirectoryVersion.version + 1, updated_at=now)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            try:
                async with session.begin_nested():
                    session.add(DirectoryVersion(id=1, version=1, updated_at=now))
            except IntegrityError:  # another process made the row just now
                await session.execute(
                    update(DirectoryVersion)
                    .where(DirectoryVersion.id == 1)
                    .values(version=DirectoryVersion.version + 1, updated_at=now)
                )
        return await self._version(session)

    async def _announce(self) -> None:
        await self.refresh_quietly()
        if self.broker is None:
            return
        try:
            await self.broker.publish(TOPIC_DIRECTORY, {"kind": "directory", "version": self.version})
        except Exception as exc:  # every process also checks on its own
            log.warning("directory: could not announce an edit (%s)", type(exc).__name__)


DIRECTORY_SERVICE = web.AppKey("directory_service", DirectoryService)


async def stored_directory(
    db: Database, methods: Mapping[str, tuple[HandoffMethod, ...]] | None = None
) -> Directory:
    """The directory with the admins' edits stored in ``db``, for a command outside the gateway
    (``helpline report``): the areas and names the running gateways use."""
    service = DirectoryService(methods or {})
    service.db = db
    service.live = service.base.copy()
    await service.refresh()
    return service.live


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


# ---------------------------------------------------------------------- views
def _service(request: web.Request) -> DirectoryService:
    return request.app[DIRECTORY_SERVICE]


def _summary(service: DirectoryService, r: Recipient) -> dict[str, Any]:
    d = service.directory
    section = service.section(r.id)
    m = d.municipality(r.municipality_code) if r.municipality_code else None
    house = d.kunskapshus_by_id(r.id)
    return {
        "id": r.id,
        "name": {"sv": r.name_sv, "en": r.name_en},
        "kind": r.kind,
        "section": section,
        "active": r.active,
        "topics": list(r.topics),
        "methods": [x.method for x in r.handoff if x.configured],
        "phone": r.phone,
        "municipality": {"code": m.code, "name": m.name, "county": m.county_name} if m else None,
        "area_size": len(d.served_by(house.id)) if house else (len(d.area_of(r)) if r.has_area else None),
        "edited": bool(service.overrides.get(r.id) and service.overrides[r.id].data),
        "added": service.shipped(r.id) is None,
    }


def _detail(service: DirectoryService, rid: str) -> dict[str, Any]:
    d = service.directory
    r = d.entry(rid)
    if r is None:
        raise Refused(404, "not_found")
    data = _summary(service, r)
    methods = {m.method: m for m in r.handoff}
    house = d.kunskapshus_by_id(rid)
    data.update(
        {
            "name_sv": r.name_sv,
            "name_en": r.name_en,
            "target_groups": list(r.target_groups),
            "languages": list(r.languages),
            "opening_hours": r.opening_hours.spec,
            "emergency_phone": r.emergency_phone,
            "website": r.website,
            "form_methods": {
                "portal": "portal" in methods and service.section(rid) != "recipient",
                "email": methods["email"].address if "email" in methods else "",
                "webhook": methods["webhook"].url if "webhook" in methods else "",
            },
            "portal_available": service.section(rid) != "recipient",
            "methods_from_configuration": rid in service.methods,
            "webhook_secret": bool(service.webhook_secrets.get(rid)),
            "required": rid in REQUIRED_RECIPIENTS,
            "revision": service.revision(rid),
            "serves": (
                {
                    "counties": list(house.serves_counties),
                    "municipalities": list(house.serves_municipalities),
                    "host": house.host,
                    "area": [{"code": m.code, "name": m.name} for m in d.served_by(house.id)],
                }
                if house
                else {
                    **r.area_data(),
                    "host": None,
                    "area": [{"code": m.code, "name": m.name} for m in d.area_of(r)],
                }
                if r.has_area
                else None
            ),
            # Where the area is edited: a Kunskapshus's with its own form (``/area``), another
            # recipient's with the entry (``serves``); a municipality's social services have none.
            "area_editable": ("own" if house else "entry" if service.section(rid) == "recipient" else None),
        }
    )
    return data


def _revision(body: Mapping[str, Any]) -> int:
    value = body.get("revision", 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FieldErrors({"revision": "invalid"})
    return value


def handles_errors(
    handler: Callable[[web.Request, Staff], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request, Staff], Awaitable[web.StreamResponse]]:
    async def wrapped(request: web.Request, staff: Staff) -> web.StreamResponse:
        try:
            return await handler(request, staff)
        except FieldErrors as exc:
            body: dict[str, Any] = {"error": "invalid_input", "fields": exc.fields}
            if exc.detail:
                body["detail"] = exc.detail
            return web.json_response(body, status=422)
        except Refused as exc:
            return web.json_response({"error": exc.code}, status=exc.status)

    wrapped.__name__ = handler.__name__
    return wrapped


async def directory_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    return render(
        request,
        "directory_admin.html",
        staff.lang,
        staff=staff,
        user=staff.user,
        kinds=KINDS,
        topics=TOPICS,
        target_groups=TARGET_GROUPS,
    )


@handles_errors
async def api_options(request: web.Request, staff: Staff) -> web.StreamResponse:
    d = _service(request).directory
    served = {m.code: k.id for k in d.kunskapshus for m in d.served_by(k.id)}
    return web.json_response(
        {
            "kinds": list(KINDS),
            "topics": list(TOPICS),
            "target_groups": list(TARGET_GROUPS),
            "methods": list(HANDOFF_METHODS),
            "counties": [
                {
                    "code": c.code,
                    "name": c.name,
                    "municipalities": [
                        {"code": m.code, "name": m.name, "kunskapshus": served.get(m.code)}
                        for m in sorted(d.municipalities_in_county(c.code), key=lambda m: m.name)
                    ],
                }
                for c in d.counties()
            ],
            "kunskapshus": [
                {"id": k.id, "name": {"sv": k.recipient.name_sv, "en": k.recipient.name_en}}
                for k in d.kunskapshus
            ],
        }
    )


@handles_errors
async def api_list(request: web.Request, staff: Staff) -> web.StreamResponse:
    service = _service(request)
    q = fold(request.query.get("q", "")[:100])
    kind = request.query.get("kind", "")
    section = request.query.get("section", "")
    state = request.query.get("state", "all")
    found = []
    for r in service.directory.all_recipients():
        summary = _summary(service, r)
        if kind and r.kind != kind:
            continue
        if section and summary["section"] != section:
            continue
        if (state == "active" and not r.active) or (state == "inactive" and r.active):
            continue
        if q:
            muni = summary["municipality"]["name"] if summary["municipality"] else ""
            hay = " ".join((r.id, fold(r.name_sv), fold(r.name_en), fold(muni), r.municipality_code or ""))
            if q not in hay:
                continue
        found.append(summary)
    order = {"recipient": 0, "kunskapshus": 1, "social_services": 2}
    found.sort(key=lambda s: (order[s["section"]], fold(s["name"]["sv"])))
    return web.json_response({"recipients": found, "version": service.version})


@handles_errors
async def api_get(request: web.Request, staff: Staff) -> web.StreamResponse:
    return web.json_response({"recipient": _detail(_service(request), request.match_info["recipient_id"])})


@handles_errors
async def api_create(request: web.Request, staff: Staff) -> web.StreamResponse:
    service = _service(request)
    body = await json_body(request)
    rid = body.get("id")
    if not isinstance(rid, str) or not ID_RE.fullmatch(rid.strip()):
        raise FieldErrors({"id": "invalid_id"})
    rid = rid.strip()
    if rid.startswith(RESERVED_PREFIXES):
        raise FieldErrors({"id": "id_reserved"})
    if service.directory.entry(rid) is not None or service.shipped(rid) is not None:
        raise FieldErrors({"id": "id_taken"})
    data = check_recipient(body, service, rid, current=None)
    result = await service.save(
        staff.user, rid, data, revision=0, action="directory.recipient_created", creating=True
    )
    return web.json_response({"recipient": _detail(service, rid), **result}, status=201)


def _current(service: DirectoryService, rid: str) -> dict[str, Any]:
    current = service.full_data(rid)
    if current is None:
        raise Refused(404, "not_found")
    return current


@handles_errors
async def api_update(request: web.Request, staff: Staff) -> web.StreamResponse:
    service = _service(request)
    rid = request.match_info["recipient_id"]
    current = _current(service, rid)
    body = await json_body(request)
    revision = _revision(body)
    data = check_recipient(body, service, rid, current=current)
    if data == current:
        return web.json_response({"recipient": _detail(service, rid), "unchanged": True})
    result = await service.save(
        staff.user, rid, data, revision=revision, action="directory.recipient_updated"
    )
    return web.json_response({"recipient": _detail(service, rid), **result})


@handles_errors
async def api_set_active(request: web.Request, staff: Staff) -> web.StreamResponse:
    service = _service(request)
    rid = request.match_info["recipient_id"]
    current = _current(service, rid)
    body = await json_body(request)
    revision = _revision(body)
    active = body.get("active")
    if not isinstance(active, bool):
        raise FieldErrors({"active": "invalid"})
    if not active and rid in REQUIRED_RECIPIENTS:
        raise FieldErrors({"active": "required_recipient"})
    if current["active"] == active:
        return web.json_response({"recipient": _detail(service, rid), "unchanged": True})
    action = "directory.recipient_activated" if active else "directory.recipient_deactivated"
    result = await service.save(
        staff.user, rid, {**current, "active": active}, revision=revision, action=action
    )
    return web.json_response({"recipient": _detail(service, rid), **result})


@handles_errors
async def api_area(request: web.Request, staff: Staff) -> web.StreamResponse:
    service = _service(request)
    rid = request.match_info["recipient_id"]
    house = service.directory.kunskapshus_by_id(rid)
    if house is None:
        raise Refused(404, "not_found")
    current = _current(service, rid)
    body = await json_body(request)
    revision = _revision(body)
    serves = check_area(body, service, house)
    if serves == current["serves"]:
        return web.json_response({"recipient": _detail(service, rid), "unchanged": True})
    result = await service.save(
        staff.user, rid, {**current, "serves": serves}, revision=revision, action="directory.area_updated"
    )
    return web.json_response({"recipient": _detail(service, rid), **result})


@handles_errors
async def api_reset(request: web.Request, staff: Staff) -> web.StreamResponse:
    service = _service(request)
    rid = request.match_info["recipient_id"]
    _current(service, rid)
    body = await json_body(request)
    result = await service.reset(staff.user, rid, revision=_revision(body))
    return web.json_response({"recipient": _detail(service, rid), **result})


@handles_errors
async def api_history(request: web.Request, staff: Staff) -> web.StreamResponse:
    rid = request.query.get("recipient_id", "")
    async with request.app[DB].session() as session:
        rows = (
            (
                await session.execute(
                    select(AuditEvent)
                    .where(AuditEvent.action.like("directory.%"))
                    .order_by(AuditEvent.id.desc())
                    .limit(HISTORY_LIMIT if not rid else 2000)
                )
            )
            .scalars()
            .all()
        )
    events = [
        {
            "at": e.at.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "recipient_id": (e.details or {}).get("recipient_id"),
            "changed": (e.details or {}).get("changed", []),
            "before": (e.details or {}).get("before"),
            "after": (e.details or {}).get("after"),
        }
        for e in rows
        if not rid or (e.details or {}).get("recipient_id") == rid
    ]
    return web.json_response({"events": events[:HISTORY_LIMIT]})


# ---------------------------------------------------------------------- routes and setup
ROUTES: tuple[ConsoleRoute, ...] = (
    ConsoleRoute("GET", "/console/directory", directory_page, ADMIN_ROLES, "page"),
    ConsoleRoute("GET", API + "/options", api_options, ADMIN_ROLES, "api"),
    ConsoleRoute("GET", API + "/recipients", api_list, ADMIN_ROLES, "api"),
    ConsoleRoute("POST", API + "/recipients", api_create, ADMIN_ROLES, "api"),
    ConsoleRoute("GET", API + "/recipients/" + RID, api_get, ADMIN_ROLES, "api"),
    ConsoleRoute("POST", API + "/recipients/" + RID, api_update, ADMIN_ROLES, "api"),
    ConsoleRoute("POST", API + "/recipients/" + RID + "/active", api_set_active, ADMIN_ROLES, "api"),
    ConsoleRoute("POST", API + "/recipients/" + RID + "/reset", api_reset, ADMIN_ROLES, "api"),
    ConsoleRoute("POST", API + "/kunskapshus/" + RID + "/area", api_area, ADMIN_ROLES, "api"),
    ConsoleRoute("GET", API + "/history", api_history, ADMIN_ROLES, "api"),
)
"""The directory admin's routes, each wrapped by the console's guard (session, role, CSRF on POST)."""


def configured_methods(app: web.Application) -> dict[str, tuple[HandoffMethod, ...]]:
    """``handoff.recipient_methods``, checked against the shipped directory (ConfigError)."""
    section = app[SETTINGS].section("handoff")
    methods = parse_recipient_methods(
        section.get("recipient_methods") or {}, webhook_secrets=section.get("webhook_secrets") or {}
    )
    for rid in methods:
        if default_directory().entry(rid) is None:
            raise ConfigError(
                f"handoff.recipient_methods.{rid}", "no recipient with this id in the directory"
            )
    return methods


@web.middleware
async def _current_directory(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Before a request that reads the directory: take in edits other processes made."""
    if _DIRECTORY_PATHS.match(request.path):
        service = request.app.get(DIRECTORY_SERVICE)
        if service is not None:
            await service.refresh_quietly()
    return await handler(request)


def setup(app: web.Application) -> None:
    """Add the directory admin (after :mod:`handoff.handoff_web`, whose services it updates)."""
    service = DirectoryService(configured_methods(app))
    app[DIRECTORY_SERVICE] = service
    interval = float(app[SETTINGS].section("handoff").get("directory_check_seconds", CHECK_SECONDS))
    if interval <= 0:
        raise ConfigError("handoff.directory_check_seconds", "must be positive")
    tasks: list[asyncio.Task[None]] = []
    subs: list[Subscription] = []

    async def start(app: web.Application) -> None:
        # After every cleanup context: the store, the broker and the handoff services exist.
        from .handoff_web import DISCLOSURES, HANDOFF_OPTIONS, REFERRALS

        options = app.get(HANDOFF_OPTIONS)
        base = options.directory if options is not None else default_directory()
        live = base.copy()  # this application's own: edits never reach another's directory
        secrets = dict(options.webhook_secrets) if options is not None else {}
        service.attach(app[DB], app[BROKER], base, live, secrets)
        try:
            await service.refresh()
        except Exception as exc:  # the gateway still routes with the shipped directory
            log.error("directory: could not load the admins' edits at start: %s", exc)
            live.install(apply_overrides(base, {}, service.methods))
        if options is not None:
            mine = options.replace(directory=live)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                app[HANDOFF_OPTIONS] = mine
            if REFERRALS in app:
                app[REFERRALS].options = mine
            if DISCLOSURES in app:
                app[DISCLOSURES].options = mine
                app[DISCLOSURES].refresh_directory = service.refresh_quietly
        subs.append(await app[BROKER].fanout(TOPIC_DIRECTORY, service.on_event))
        tasks.append(asyncio.create_task(service.check_forever(interval), name="directory check"))

    async def stop(app: web.Application) -> None:
        for task in tasks:
            await cancel_and_wait(task)
        tasks.clear()
        for sub in subs:
            with contextlib.suppress(Exception):
                await sub.cancel()
        subs.clear()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
    app.middlewares.append(_current_directory)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, guarded(route))


__all__ = [
    "DIRECTORY_SERVICE",
    "ROUTES",
    "TOPIC_DIRECTORY",
    "DirectoryService",
    "FieldErrors",
    "check_area",
    "check_recipient",
    "setup",
    "stored_directory",
]
