"""The directory of recipients as the routing and the console read it (:class:`Directory`)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from handoff.directory.entries import (
    MUNICIPALITY_CSV_HEADER,
    SOCIAL_SERVICES_PREFIX,
    TOPICS,
    County,
    Kunskapshus,
    Municipality,
    Recipient,
    fold,
    normalize_name,
)


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
