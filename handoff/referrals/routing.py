"""Routing: which recipients the console proposes for a conversation, in order, and why.

Proposals come in three tiers, and the order of the tiers is never changed:

1. the *clear recipient* of the topic (the police for a crime, 112 for imminent danger, the
   municipality's social services for a child at risk, Mind/1177/112 for self-harm, Kvinnofridslinjen
   for violence in a close relationship): such cases go there first and not to a Kunskapshus;
2. *local* recipients: the Kunskapshus serving the municipality (for radicalisation concerns,
   exit, travel to conflict and professional advice), then the municipality's social services,
   then the recipients whose own area (``serves`` in the directory: municipal and regional units,
   local civil-society organisations) includes the municipality, for the topic and the contact
   type, the most local first;
3. *national and civil-society* recipients (those without an area) for the topic and the contact
   type.

Inactive recipients are never proposed.

When ``now`` is given, recipients open at that time come before closed ones *within* a tier;
closed recipients are never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.errors import InvalidInput
from handoff.directory.catalog import Directory
from handoff.directory.entries import CONTACT_TYPES, TOPICS, Recipient
from handoff.directory.loading import default_directory
from handoff.referrals.strings import reason

CLEAR_RECIPIENTS: dict[str, tuple[str, ...]] = {
    "imminent_danger": ("sos-112", "polisen"),
    "crime": ("polisen", "sakerhetspolisen"),
    "self_harm": ("mind-sjalvmordslinjen", "vardguiden-1177", "sos-112"),
    "violence_close_relationship": ("kvinnofridslinjen",),
}
"""Topics whose clear recipients are national (the child-at-risk rule is municipal, below)."""

KUNSKAPSHUS_TOPICS: frozenset[str] = frozenset(
    {"radicalisation_concern", "exit", "travel_conflict", "professional_advice"}
)
"""Topics for which a Kunskapshus is the first local recipient."""

TIER_CLEAR, TIER_LOCAL, TIER_NATIONAL = 1, 2, 3

_CLEAR_REASONS: dict[tuple[str, str], tuple[str, str]] = {
    ("imminent_danger", "sos-112"): ("Akut fara: ring 112 genast.", "Imminent danger: call 112 at once."),
    ("imminent_danger", "polisen"): (
        "Polisen tar emot uppgifter om hot och brott; vid akut fara via 112.",
        "The police receive information about threats and crimes; in imminent danger through 112.",
    ),
    ("crime", "polisen"): (
        "Uppgifter om brott lämnas till Polisen enligt riktlinjerna (114 14, vid akut fara 112).",
        "Information about a crime is passed to the police under the guidelines (114 14, in imminent danger 112).",
    ),
    ("crime", "sakerhetspolisen"): (
        "Brott som rör terrorism eller rikets säkerhet: Säkerhetspolisen.",
        "Crimes concerning terrorism or national security: the Security Service.",
    ),
    ("self_harm", "mind-sjalvmordslinjen"): (
        "Självmordstankar: Mind Självmordslinjen, 90101, dygnet runt.",
        "Suicidal thoughts: Mind Suicide Line, 90101, day and night.",
    ),
    ("self_harm", "vardguiden-1177"): (
        "Sjukvårdsrådgivning: 1177 Vårdguiden.",
        "Medical advice: 1177 Healthcare guide.",
    ),
    ("self_harm", "sos-112"): (
        "Vid akut fara för livet: ring 112.",
        "If a life is in immediate danger: call 112.",
    ),
}

_TOPIC_SV: dict[str, str] = {
    "crime": "brott",
    "imminent_danger": "akut fara",
    "child_at_risk": "barn som far illa",
    "radicalisation_concern": "oro för radikalisering",
    "exit": "avhopp",
    "self_harm": "självskada eller självmordstankar",
    "travel_conflict": "resa till konfliktområde",
    "violence_close_relationship": "våld i nära relation",
    "professional_advice": "råd till yrkesverksamma",
    "trauma": "trauma",
}
_TOPIC_EN: dict[str, str] = {
    "crime": "a crime",
    "imminent_danger": "imminent danger",
    "child_at_risk": "a child at risk",
    "radicalisation_concern": "a concern about radicalisation",
    "exit": "leaving a movement",
    "self_harm": "self-harm or suicidal thoughts",
    "travel_conflict": "travel to a conflict zone",
    "violence_close_relationship": "violence in a close relationship",
    "professional_advice": "advice for professionals",
    "trauma": "trauma",
}


@dataclass(frozen=True, slots=True)
class Proposal:
    """One proposed recipient, with the reason in Swedish and English."""

    recipient: Recipient
    tier: int
    reason_sv: str
    reason_en: str
    open_now: bool | None = None
    """Whether the recipient is open at ``now``; None when no time was given."""

    @property
    def recipient_id(self) -> str:
        return self.recipient.id

    def reason(self, language: str = "sv") -> str:
        return self.reason_en if language == "en" else self.reason_sv


def propose(
    municipality_code: str | None,
    topic: str,
    contact_type: str,
    *,
    now: datetime | None = None,
    directory: Directory | None = None,
) -> list[Proposal]:
    """Recipients for a conversation, best first, each with a reason (sv and en).

    Raises :class:`InvalidInput` for an unknown topic, contact type or municipality code.
    """
    d = directory if directory is not None else default_directory()
    if topic not in TOPICS:
        raise InvalidInput(f"unknown topic {topic!r}; topics are {', '.join(TOPICS)}")
    if contact_type not in CONTACT_TYPES:
        raise InvalidInput(
            f"unknown contact type {contact_type!r}; contact types are {', '.join(CONTACT_TYPES)}"
        )
    municipality = None
    if municipality_code:
        municipality = d.municipality(municipality_code)
        if municipality is None:
            raise InvalidInput(f"unknown municipality code {municipality_code!r}")

    tsv, ten = _TOPIC_SV[topic], _TOPIC_EN[topic]
    chosen: list[tuple[int, Recipient, str, str]] = []
    seen: set[str] = set()

    def add(tier: int, recipient: Recipient | None, sv: str, en: str) -> None:
        if recipient is not None and recipient.id not in seen:
            seen.add(recipient.id)
            chosen.append((tier, recipient, sv, en))

    # 1. the clear recipient
    for rid in CLEAR_RECIPIENTS.get(topic, ()):
        r = d.recipient(rid)
        if r is None:
            continue
        sv, en = _CLEAR_REASONS.get(
            (topic, rid), reason("clear", topic=(tsv, ten), recipient=(r.name_sv, r.name_en))
        )
        add(TIER_CLEAR, r, sv, en)
    if topic == "child_at_risk":
        if municipality is not None:
            add(
                TIER_CLEAR,
                d.social_services(municipality.code),
                *reason("child_local", municipality=municipality.name),
            )
        else:
            add(
                TIER_CLEAR,
                d.recipient("bris"),
                *reason("child_no_municipality"),
            )

    # 2. local recipients
    if municipality is not None:
        house = d.kunskapshus_for(municipality.code) if topic in KUNSKAPSHUS_TOPICS else None
        if house is not None and topic not in CLEAR_RECIPIENTS:
            add(
                TIER_LOCAL,
                house.recipient,
                *reason(
                    "kunskapshus",
                    municipality=municipality.name,
                    recipient=(house.recipient.name_sv, house.recipient.name_en),
                    topic=(tsv, ten),
                ),
            )
        social = d.social_services(municipality.code)
        if social is not None and topic in social.topics:
            add(
                TIER_LOCAL,
                social,
                *reason("social_services", municipality=municipality.name, topic=(tsv, ten)),
            )
        for r in d.local_recipients(municipality.code):
            if topic in r.topics and r.serves_group(contact_type):
                add(
                    TIER_LOCAL,
                    r,
                    *reason(
                        "local",
                        municipality=municipality.name,
                        recipient=(r.name_sv, r.name_en),
                        topic=(tsv, ten),
                    ),
                )

    # 3. national and civil-society recipients
    for r in d.national_recipients():
        if topic in r.topics and r.serves_group(contact_type):
            key = "national_no_municipality" if municipality is None else "national"
            add(TIER_NATIONAL, r, *reason(key, recipient=(r.name_sv, r.name_en), topic=(tsv, ten)))

    proposals: list[Proposal] = []
    for tier, r, sv, en in chosen:
        open_now = r.is_open(now) if now is not None else None
        if open_now is False:
            closed = reason(
                "closed_now", hours=(r.opening_hours.describe("sv"), r.opening_hours.describe("en"))
            )
            sv += " " + closed[0]
            en += " " + closed[1]
        proposals.append(Proposal(r, tier, sv, en, open_now))
    # Stable sort: tiers keep their order; within a tier, open recipients first.
    proposals.sort(key=lambda p: (p.tier, p.open_now is False))
    return proposals
