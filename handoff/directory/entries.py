"""The entries of the directory of recipients: counties, municipalities, recipients, Kunskapshus,
their opening hours and handoff methods (see :mod:`handoff.directory.loading` for the data)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gateway import catalogues
from gateway.errors import ConfigError

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
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
DISCLOSURE_RECIPIENTS: tuple[str, ...] = ("polisen", "sakerhetspolisen")
"""The recipients of crime information (:mod:`handoff.disclosures`): the whole country, never
deactivated."""


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

    def describe(self, lang: str) -> str:
        """The hours in words of ``lang`` ("mån–fre 08–16", "dygnet runt"), for people to read."""
        words = catalogues.section("console", "en" if lang == "en" else "sv", "hours.")
        if self.always:
            return words["always"]
        parts = []
        for part in self.spec.split(";"):
            days, _, hours = part.strip().partition(" ")
            named = ", ".join("–".join(words[d] for d in item.split("-")) for item in days.split(","))
            parts.append(f"{named} {hours.replace('-', '–')}")
        return "; ".join(parts)

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
