"""The directory of recipients: municipalities, Kunskapshus, national and civil-society recipients.

The data ships in ``handoff/data/`` (``municipalities.csv``, ``kunskapshus.yml``,
``recipients.yml``) and may be edited by admins: :func:`load_directory` and
:func:`dump_directory` are symmetrical, so an edited copy can be saved and loaded again.
Every problem in the data is reported as a :class:`DirectoryError` naming the file, the entry and
the key.

Each municipality's social services are generated from ``municipal_template`` in
``recipients.yml`` (id ``socialtjanst-<SCB code>``); an explicit entry with that id replaces the
generated one.

A recipient in ``recipients.yml`` may serve an area of its own (``serves``: whole counties and/or
single municipalities, as a Kunskapshus does): a municipal or regional unit, or a local
civil-society organisation.  Routing proposes it, among the local recipients, only to people in
that area (:meth:`Directory.local_recipients`); a recipient without an area serves the whole
country, except municipal ones, which are only ever the social services of their municipality.

A recipient may be *inactive* (``active: false``): it stays in the directory (earlier referrals,
the portal and the admin page still find it with :meth:`Directory.entry`), but it is neither
proposed nor accepted for new handoffs (:meth:`Directory.recipient` does not return it).

The running gateway layers three sources: the shipped data, the deployment's
``handoff.recipient_methods`` (:func:`parse_recipient_methods`) and the admins' edits kept in the
database (:func:`apply_overrides`; see :mod:`handoff.directory_admin`).
"""

from __future__ import annotations

import csv
import functools
import io
import ipaddress
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from gateway.errors import ConfigError

DATA_DIR = Path(__file__).parent / "data"
MUNICIPALITIES_FILE = "municipalities.csv"
KUNSKAPSHUS_FILE = "kunskapshus.yml"
RECIPIENTS_FILE = "recipients.yml"

TIMEZONE = ZoneInfo("Europe/Stockholm")
"""Opening hours are local Swedish time."""

TOPICS: tuple[str, ...] = (
    "crime",
    "imminent_danger",
    "child_at_risk",
    "radicalisation_concern",
    "exit",
    "self_harm",
    "travel_conflict",
    "violence_close_relationship",
    "professional_advice",
    "trauma",
)
CONTACT_TYPES: tuple[str, ...] = ("relative", "professional", "person_leaving", "other")
TARGET_GROUPS: tuple[str, ...] = (*CONTACT_TYPES, "any")
KINDS: tuple[str, ...] = ("state", "regional", "municipal", "civil_society")
HANDOFF_METHODS: dict[str, tuple[str, ...]] = {"portal": (), "email": ("address",), "webhook": ("url",)}
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MUNICIPALITY_CSV_HEADER: tuple[str, ...] = ("code", "name", "county_code", "county_name")
SOCIAL_SERVICES_PREFIX = "socialtjanst-"


class DirectoryError(ConfigError):
    """The directory data is wrong; ``key`` names the file, the entry and the field."""


def normalize_name(text: str) -> str:
    """Case-insensitive form of a name, with spaces and hyphens made equal."""
    return re.sub(r"[\s\-_]+", " ", unicodedata.normalize("NFC", text.strip()).casefold())


def fold(text: str) -> str:
    """Case- and diacritic-insensitive form of a name: ``"Göteborg"`` -> ``"goteborg"``."""
    decomposed = unicodedata.normalize("NFKD", text.strip())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[\s\-_]+", " ", stripped.casefold())


# --------------------------------------------------------------------------------------------
# opening hours


_HOURS_RE = re.compile(r"^(\d{1,2})(?::(\d{2}))?-(\d{1,2})(?::(\d{2}))?$")


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """Opening hours as written (``"24/7"``, ``"mon-fri 08-16"``, ``"mon-fri 08-16; sat 10-14"``).

    ``slots`` are (weekday 0=Monday, start minute, end minute); an end before the start runs past
    midnight into the next day.
    """

    spec: str
    always: bool = False
    slots: tuple[tuple[int, int, int], ...] = ()

    @classmethod
    def parse(cls, spec: str) -> OpeningHours:
        text = " ".join(spec.strip().lower().split())
        if text in ("24/7", "always"):
            return cls(spec=text, always=True)
        if not text:
            raise ValueError("opening hours are empty (write '24/7' or e.g. 'mon-fri 08-16')")
        slots: list[tuple[int, int, int]] = []
        for part in text.split(";"):
            pieces = part.strip().split(" ")
            if len(pieces) != 2:
                raise ValueError(f"cannot read {part.strip()!r}: write days and hours, e.g. 'mon-fri 08-16'")
            days = _parse_days(pieces[0])
            start, end = _parse_hours(pieces[1])
            slots.extend((day, start, end) for day in days)
        return cls(spec=text, always=False, slots=tuple(slots))

    def is_open(self, when: datetime) -> bool:
        """Whether open at ``when`` (converted to Swedish time; a naive time is taken as Swedish)."""
        if self.always:
            return True
        local = when.astimezone(TIMEZONE) if when.tzinfo else when
        minute = local.hour * 60 + local.minute
        today = local.weekday()
        yesterday = (local - timedelta(days=1)).weekday()
        for day, start, end in self.slots:
            if start < end:
                if day == today and start <= minute < end:
                    return True
            else:  # runs past midnight
                if day == today and minute >= start:
                    return True
                if day == yesterday and minute < end:
                    return True
        return False

    def __str__(self) -> str:
        return self.spec


def _parse_days(text: str) -> list[int]:
    days: list[int] = []
    for item in text.split(","):
        if "-" in item:
            first, _, last = item.partition("-")
            if first not in DAYS or last not in DAYS:
                raise ValueError(f"unknown day range {item!r}; days are {', '.join(DAYS)}")
            a, b = DAYS.index(first), DAYS.index(last)
            if b < a:
                raise ValueError(f"day range {item!r} runs backwards")
            days.extend(range(a, b + 1))
        elif item in DAYS:
            days.append(DAYS.index(item))
        else:
            raise ValueError(f"unknown day {item!r}; days are {', '.join(DAYS)}")
    return days


def _parse_hours(text: str) -> tuple[int, int]:
    match = _HOURS_RE.match(text)
    if not match:
        raise ValueError(f"cannot read hours {text!r}; write e.g. '08-16' or '08:30-16:30'")
    h1, m1, h2, m2 = (int(g) if g else 0 for g in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"hours {text!r} are out of range")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError(f"hours {text!r} open and close at the same time")
    return start, end


# --------------------------------------------------------------------------------------------
# entries


@dataclass(frozen=True, slots=True)
class County:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Municipality:
    code: str
    name: str
    county_code: str
    county_name: str

    @property
    def county(self) -> County:
        return County(self.county_code, self.county_name)


@dataclass(frozen=True, slots=True)
class HandoffMethod:
    """How a recipient receives handoffs: ``portal``, ``email`` (address) or ``webhook`` (url)."""

    method: str
    address: str = ""
    url: str = ""

    def to_dict(self) -> dict[str, str]:
        data = {"method": self.method}
        if self.method == "email":
            data["address"] = self.address
        elif self.method == "webhook":
            data["url"] = self.url
        return data

    @property
    def configured(self) -> bool:
        """A portal is always usable; e-mail and webhook need their address."""
        return self.method == "portal" or bool(self.address or self.url)


@dataclass(frozen=True, slots=True)
class Recipient:
    id: str
    name_sv: str
    name_en: str
    kind: str
    topics: tuple[str, ...]
    target_groups: tuple[str, ...]
    languages: tuple[str, ...]
    opening_hours: OpeningHours
    handoff: tuple[HandoffMethod, ...] = ()
    phone: str = ""
    emergency_phone: str = ""
    website: str = ""
    municipality_code: str | None = field(default=None, compare=False)
    """Set on generated social services: the municipality they belong to."""
    active: bool = True
    """An inactive recipient is kept (earlier handoffs still name it) but not proposed or used anew."""
    serves_counties: tuple[str, ...] = ()
    serves_municipalities: tuple[str, ...] = ()
    """The area of a *local* recipient (whole counties and/or single municipalities, written as
    ``serves`` like a Kunskapshus's area): routing proposes it for people in that area only.  A
    recipient without an area serves the whole country (municipal ones: nowhere but their
    municipality, see :attr:`municipality_code`).  A Kunskapshus keeps its area in
    :class:`Kunskapshus`, never here."""

    def name(self, language: str = "sv") -> str:
        return self.name_en if language == "en" else self.name_sv

    @property
    def has_area(self) -> bool:
        """Whether the recipient serves an area of its own (``serves``) rather than the country."""
        return bool(self.serves_counties or self.serves_municipalities)

    def serves_area(self, municipality: Municipality) -> bool:
        """Whether the recipient's own area (``serves``) includes ``municipality``."""
        return (
            municipality.county_code in self.serves_counties
            or municipality.code in self.serves_municipalities
        )

    def serves_group(self, contact_type: str) -> bool:
        return "any" in self.target_groups or contact_type in self.target_groups

    def is_open(self, when: datetime) -> bool:
        return self.opening_hours.is_open(when)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "name": {"sv": self.name_sv, "en": self.name_en},
            "kind": self.kind,
            "topics": list(self.topics),
            "target_groups": list(self.target_groups),
            "languages": list(self.languages),
            "opening_hours": self.opening_hours.spec,
            "phone": self.phone,
        }
        if self.emergency_phone:
            data["emergency_phone"] = self.emergency_phone
        data["website"] = self.website
        if self.has_area:
            data["serves"] = self.area_data()
        data["handoff"] = [h.to_dict() for h in self.handoff]
        if not self.active:
            data["active"] = False
        return data

    def area_data(self) -> dict[str, list[str]]:
        """The area as written in the data files (``serves``)."""
        return {"counties": list(self.serves_counties), "municipalities": list(self.serves_municipalities)}

    @property
    def electronic_methods(self) -> tuple[HandoffMethod, ...]:
        """The e-mail and webhook methods that have an address (a portal is not electronic delivery)."""
        return tuple(
            m
            for m in self.handoff
            if (m.method == "email" and m.address) or (m.method == "webhook" and m.url)
        )


@dataclass(frozen=True, slots=True)
class Kunskapshus:
    """A municipal knowledge centre and the area it serves (whole counties and/or municipalities)."""

    recipient: Recipient
    host: str
    serves_counties: tuple[str, ...]
    serves_municipalities: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.recipient.id

    def serves(self, municipality: Municipality) -> bool:
        return (
            municipality.county_code in self.serves_counties
            or municipality.code in self.serves_municipalities
        )

    def to_dict(self) -> dict[str, Any]:
        data = self.recipient.to_dict()
        entry: dict[str, Any] = {"id": data.pop("id"), "name": data.pop("name"), "host": self.host}
        entry["serves"] = {
            "counties": list(self.serves_counties),
            "municipalities": list(self.serves_municipalities),
        }
        entry.update(data)
        return entry


# --------------------------------------------------------------------------------------------
# the directory


@dataclass(slots=True)
class Directory:
    """Everything the routing and the console need to know about recipients."""

    municipalities: dict[str, Municipality]
    recipients: dict[str, Recipient]
    """Explicit recipients from recipients.yml (national, regional, civil society, overrides)."""
    kunskapshus: tuple[Kunskapshus, ...]
    municipal_template: dict[str, Any]
    social_services_by_code: dict[str, Recipient] = field(default_factory=dict)
    _by_name: dict[str, Municipality] = field(default_factory=dict)
    _by_folded: dict[str, list[Municipality]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_name = {normalize_name(m.name): m for m in self.municipalities.values()}
        self._by_folded = {}
        for m in self.municipalities.values():
            self._by_folded.setdefault(fold(m.name), []).append(m)

    # municipalities and counties

    def municipality(self, code: str) -> Municipality | None:
        return self.municipalities.get(code.strip())

    def municipality_by_name(self, name: str) -> Municipality | None:
        """Case- and diacritic-insensitive; "kommun"/"stad"/"Municipality" suffixes are ignored.

        An exact spelling wins ("Håbo" and "Habo" are two municipalities); a name written without
        its diacritics is found when only one municipality folds to it ("Orebro" -> Örebro).
        """
        key = re.sub(r"\s+(kommun|stad|municipality|city)$", "", normalize_name(name))
        candidates = [key, key[:-1]] if key.endswith("s") else [key]  # "Göteborgs stad"
        for candidate in candidates:
            if candidate in self._by_name:
                return self._by_name[candidate]
        for candidate in candidates:
            folded = self._by_folded.get(fold(candidate), [])
            if len(folded) == 1:
                return folded[0]
        return None

    def find_municipality(self, query: str) -> Municipality | None:
        """By SCB code or by name."""
        query = query.strip()
        if re.fullmatch(r"\d{4}", query):
            return self.municipality(query)
        return self.municipality_by_name(query)

    def counties(self) -> list[County]:
        seen: dict[str, County] = {}
        for m in self.municipalities.values():
            seen.setdefault(m.county_code, m.county)
        return sorted(seen.values(), key=lambda c: c.code)

    def county_of(self, code: str) -> County | None:
        m = self.municipality(code)
        return m.county if m else None

    def municipalities_in_county(self, county_code: str) -> list[Municipality]:
        return [m for m in self.municipalities.values() if m.county_code == county_code]

    # recipients

    def kunskapshus_for(self, code: str) -> Kunskapshus | None:
        """The active Kunskapshus serving a municipality, or None outside every Kunskapshus area."""
        m = self.municipality(code)
        if m is None:
            return None
        for k in self.kunskapshus:
            if k.serves(m) and k.recipient.active:
                return k
        return None

    def kunskapshus_by_id(self, kunskapshus_id: str) -> Kunskapshus | None:
        """A Kunskapshus by its id, active or not."""
        for k in self.kunskapshus:
            if k.id == kunskapshus_id:
                return k
        return None

    def served_by(self, kunskapshus_id: str) -> list[Municipality]:
        for k in self.kunskapshus:
            if k.id == kunskapshus_id:
                return [m for m in self.municipalities.values() if k.serves(m)]
        return []

    def social_services(self, code: str) -> Recipient | None:
        """A municipality's social services, unless an admin made them inactive."""
        found = self.social_services_by_code.get(code.strip())
        return found if found is not None and found.active else None

    def recipient(self, recipient_id: str) -> Recipient | None:
        """An active recipient by id (what routing and new handoffs may use)."""
        found = self.entry(recipient_id)
        return found if found is not None and found.active else None

    def entry(self, recipient_id: str) -> Recipient | None:
        """A recipient by id, active or not."""
        if recipient_id in self.recipients:
            return self.recipients[recipient_id]
        for k in self.kunskapshus:
            if k.id == recipient_id:
                return k.recipient
        if recipient_id.startswith(SOCIAL_SERVICES_PREFIX):
            return self.social_services_by_code.get(recipient_id.removeprefix(SOCIAL_SERVICES_PREFIX))
        return None

    def all_recipients(self) -> list[Recipient]:
        explicit = [r for r in self.recipients.values() if r.municipality_code is None]
        return [
            *explicit,
            *(k.recipient for k in self.kunskapshus),
            *self.social_services_by_code.values(),
        ]

    def national_recipients(self) -> list[Recipient]:
        """Active recipients that serve the whole country (every kind but municipal, without an
        area of their own)."""
        return [r for r in self.recipients.values() if r.kind != "municipal" and r.active and not r.has_area]

    def local_recipients(self, code: str) -> list[Recipient]:
        """Active recipients whose own area (``serves``) includes the municipality ``code``, of any
        kind (a municipal or regional unit, a local civil-society organisation); the most local
        first (the fewest municipalities served), then by name.  Neither the Kunskapshus nor the
        social services: they have :meth:`kunskapshus_for` and :meth:`social_services`."""
        m = self.municipality(code)
        if m is None:
            return []
        found = [r for r in self.recipients.values() if r.active and r.has_area and r.serves_area(m)]
        return sorted(found, key=lambda r: (len(self.area_of(r)), fold(r.name_sv), r.id))

    def area_of(self, recipient: Recipient) -> list[Municipality]:
        """The municipalities a recipient with an area of its own serves."""
        if not recipient.has_area:
            return []
        return [m for m in self.municipalities.values() if recipient.serves_area(m)]

    def recipients_for_topic(
        self, topic: str, *, target_group: str | None = None, municipality_code: str | None = None
    ) -> list[Recipient]:
        """National, regional and civil-society recipients for a topic; with a municipality also
        its Kunskapshus (if any), its social services and the recipients whose area includes it."""
        if topic not in TOPICS:
            raise ValueError(f"unknown topic {topic!r}; topics are {', '.join(TOPICS)}")
        found: list[Recipient] = []
        if municipality_code is not None:
            k = self.kunskapshus_for(municipality_code)
            if k is not None:
                found.append(k.recipient)
            social = self.social_services(municipality_code)
            if social is not None:
                found.append(social)
            found.extend(self.local_recipients(municipality_code))
        found.extend(self.national_recipients())
        return [
            r for r in found if topic in r.topics and (target_group is None or r.serves_group(target_group))
        ]

    # a running gateway's own copy, updated in place

    def copy(self) -> Directory:
        """A directory of its own with the same entries (the entries themselves are immutable)."""
        return Directory(
            municipalities=dict(self.municipalities),
            recipients=dict(self.recipients),
            kunskapshus=self.kunskapshus,
            municipal_template=dict(self.municipal_template),
            social_services_by_code=dict(self.social_services_by_code),
        )

    def install(self, other: Directory) -> None:
        """Take over the entries of ``other``, in place: everyone holding this object sees them.

        Each field is replaced by a new object, never changed inside, so a reader between two
        awaits sees either the old or the new entries of a field.
        """
        self.municipalities = other.municipalities
        self.recipients = other.recipients
        self.kunskapshus = other.kunskapshus
        self.municipal_template = other.municipal_template
        self.social_services_by_code = other.social_services_by_code
        self._by_name = other._by_name
        self._by_folded = other._by_folded

    # data form (for dumping)

    def municipalities_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(MUNICIPALITY_CSV_HEADER)
        for m in self.municipalities.values():
            writer.writerow((m.code, m.name, m.county_code, m.county_name))
        return out.getvalue()

    def kunskapshus_data(self) -> dict[str, Any]:
        return {"kunskapshus": [k.to_dict() for k in self.kunskapshus]}

    def recipients_data(self) -> dict[str, Any]:
        return {
            "recipients": [r.to_dict() for r in self.recipients.values()],
            "municipal_template": self.municipal_template,
        }


# --------------------------------------------------------------------------------------------
# loading and validation


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


def parse_municipalities(text: str, source: str = MUNICIPALITIES_FILE) -> dict[str, Municipality]:
    reader = csv.reader(io.StringIO(text))
    rows = list(reader)
    if not rows or tuple(h.strip() for h in rows[0]) != MUNICIPALITY_CSV_HEADER:
        raise _err(f"{source} header", f"must be {','.join(MUNICIPALITY_CSV_HEADER)}")
    found: dict[str, Municipality] = {}
    county_names: dict[str, str] = {}
    names: dict[str, str] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{source} line {line}"
        if len(row) != 4:
            raise _err(where, f"needs 4 columns, has {len(row)}")
        code, name, county_code, county_name = (cell.strip() for cell in row)
        where = f"{where} ({code} {name})"
        if not re.fullmatch(r"\d{4}", code):
            raise _err(f"{where}.code", f"{code!r} is not a 4-digit SCB municipality code")
        if not re.fullmatch(r"\d{2}", county_code):
            raise _err(f"{where}.county_code", f"{county_code!r} is not a 2-digit SCB county code")
        if code[:2] != county_code:
            raise _err(f"{where}.county_code", f"{county_code!r} does not match the code's first two digits")
        if not name or not county_name:
            raise _err(where, "name and county name must not be empty")
        if code in found:
            raise _err(f"{where}.code", f"{code} appears twice")
        if normalize_name(name) in names:
            raise _err(f"{where}.name", f"{name!r} is also the name of {names[normalize_name(name)]}")
        if county_names.setdefault(county_code, county_name) != county_name:
            raise _err(
                f"{where}.county_name",
                f"{county_name!r} differs from {county_names[county_code]!r} for county {county_code}",
            )
        names[normalize_name(name)] = code
        found[code] = Municipality(code, name, county_code, county_name)
    if not found:
        raise _err(source, "has no municipalities")
    return dict(sorted(found.items()))


def _social_services(template: Mapping[str, Any], m: Municipality) -> Recipient:
    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{code}", m.code).replace("{name}", m.name)
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, Mapping):
            return {k: fill(v) for k, v in value.items()}
        return value

    filled = fill(dict(template))
    recipient = _recipient(filled, f"{RECIPIENTS_FILE}: municipal_template")
    return Recipient(
        **{f: getattr(recipient, f) for f in Recipient.__dataclass_fields__ if f != "municipality_code"},
        municipality_code=m.code,
    )


def build_directory(
    municipalities: dict[str, Municipality], kunskapshus_data: Any, recipients_data: Any
) -> Directory:
    """Validate parsed data and build the directory (used by :func:`load_directory`)."""
    if not isinstance(recipients_data, Mapping):
        raise _err(RECIPIENTS_FILE, "must be a mapping with 'recipients' and 'municipal_template'")
    raw_recipients = recipients_data.get("recipients")
    if not isinstance(raw_recipients, list):
        raise _err(f"{RECIPIENTS_FILE}: recipients", "must be a list")
    template = recipients_data.get("municipal_template")
    if not isinstance(template, Mapping):
        raise _err(f"{RECIPIENTS_FILE}: municipal_template", "is missing or not a mapping")
    if "{code}" not in str(template.get("id", "")):
        raise _err(f"{RECIPIENTS_FILE}: municipal_template.id", "must contain '{code}'")
    if "serves" in template:
        raise _err(
            f"{RECIPIENTS_FILE}: municipal_template.serves",
            "a municipality's social services serve their own municipality",
        )
    unknown = set(recipients_data) - {"recipients", "municipal_template"}
    if unknown:
        raise _err(RECIPIENTS_FILE, f"unknown keys {sorted(unknown)}")

    recipients: dict[str, Recipient] = {}
    for i, raw in enumerate(raw_recipients):
        r = _recipient(raw, f"{RECIPIENTS_FILE}: recipients[{i}]")
        if r.id in recipients:
            raise _err(f"{RECIPIENTS_FILE}: recipients[{i}] ({r.id}).id", "appears twice")
        if r.id.startswith(SOCIAL_SERVICES_PREFIX):
            code = r.id.removeprefix(SOCIAL_SERVICES_PREFIX)
            if code not in municipalities:
                raise _err(f"{RECIPIENTS_FILE}: recipients[{i}] ({r.id}).id", f"no municipality {code!r}")
            r = Recipient(
                **{f: getattr(r, f) for f in Recipient.__dataclass_fields__ if f != "municipality_code"},
                municipality_code=code,
            )
        if r.has_area:
            if r.municipality_code is not None:
                raise _err(
                    f"{RECIPIENTS_FILE}: recipients[{i}] ({r.id}).serves",
                    "a municipality's social services serve their own municipality",
                )
            _check_area(
                r.serves_counties,
                r.serves_municipalities,
                municipalities,
                f"{RECIPIENTS_FILE}: recipients[{i}] ({r.id}).serves",
            )
        recipients[r.id] = r

    social: dict[str, Recipient] = {}
    for m in municipalities.values():
        override = recipients.get(f"{SOCIAL_SERVICES_PREFIX}{m.code}")
        social[m.code] = override if override is not None else _social_services(template, m)

    if not isinstance(kunskapshus_data, Mapping) or not isinstance(kunskapshus_data.get("kunskapshus"), list):
        raise _err(f"{KUNSKAPSHUS_FILE}: kunskapshus", "must be a list")
    counties = {m.county_code for m in municipalities.values()}
    houses: list[Kunskapshus] = []
    served: dict[str, str] = {}
    for i, raw in enumerate(kunskapshus_data["kunskapshus"]):
        where = f"{KUNSKAPSHUS_FILE}: kunskapshus[{i}]"
        if not isinstance(raw, Mapping):
            raise _err(where, "must be a mapping")
        body = {k: v for k, v in raw.items() if k not in ("host", "serves")}
        recipient = _recipient(body, where)
        where = f"{where} ({recipient.id})"
        if recipient.id in recipients or any(k.id == recipient.id for k in houses):
            raise _err(f"{where}.id", "is already the id of another recipient")
        host = _str(raw, "host", where)
        if host not in municipalities:
            raise _err(f"{where}.host", f"no municipality with code {host!r}")
        serves = raw.get("serves")
        if not isinstance(serves, Mapping):
            raise _err(f"{where}.serves", "must have 'counties' and/or 'municipalities'")
        s_counties = _str_list({"counties": serves.get("counties", [])}, "counties", f"{where}.serves")
        s_munis = _str_list(
            {"municipalities": serves.get("municipalities", [])}, "municipalities", f"{where}.serves"
        )
        for c in s_counties:
            if c not in counties:
                raise _err(f"{where}.serves.counties", f"no county with code {c!r}")
        for c in s_munis:
            if c not in municipalities:
                raise _err(f"{where}.serves.municipalities", f"no municipality with code {c!r}")
        house = Kunskapshus(recipient, host, s_counties, s_munis)
        area = [m for m in municipalities.values() if house.serves(m)]
        if not area:
            raise _err(f"{where}.serves", "serves no municipality")
        for m in area:
            if m.code in served:
                raise _err(f"{where}.serves", f"{m.code} {m.name} is already served by {served[m.code]}")
            served[m.code] = recipient.id
        houses.append(house)

    return Directory(
        municipalities=municipalities,
        recipients=recipients,
        kunskapshus=tuple(houses),
        municipal_template=dict(template),
        social_services_by_code=social,
    )


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _err(path.name, f"file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise _err(path.name, f"is not valid YAML: {exc}") from None


def load_directory(path: str | Path | None = None) -> Directory:
    """Load and validate the directory from a folder holding the three data files."""
    folder = Path(path) if path is not None else DATA_DIR
    csv_path = folder / MUNICIPALITIES_FILE
    try:
        csv_text = csv_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _err(MUNICIPALITIES_FILE, f"file not found: {csv_path}") from None
    municipalities = parse_municipalities(csv_text)
    return build_directory(
        municipalities, _read_yaml(folder / KUNSKAPSHUS_FILE), _read_yaml(folder / RECIPIENTS_FILE)
    )


def dump_directory(directory: Directory, path: str | Path) -> None:
    """Write the directory as the three data files into a folder; :func:`load_directory` reads them back."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MUNICIPALITIES_FILE).write_text(directory.municipalities_csv(), encoding="utf-8")
    for name, data in (
        (KUNSKAPSHUS_FILE, directory.kunskapshus_data()),
        (RECIPIENTS_FILE, directory.recipients_data()),
    ):
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=110)
        (folder / name).write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------------------------
# layers over the shipped data: the deployment's methods and the admins' edits

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


@functools.lru_cache(maxsize=1)
def default_directory() -> Directory:
    """The directory shipped with the project (loaded once)."""
    return load_directory()
