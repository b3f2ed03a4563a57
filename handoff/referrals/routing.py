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

from gateway import catalogues
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


def _clear_reason(topic: str, rid: str) -> tuple[str, str] | None:
    """The reason written for one clear recipient of a topic (``referral_reason.clear.<topic>.<id>``
    in the console catalogue), or None (the general ``referral_reason.clear`` is used)."""
    msgid = f"referral_reason.clear.{topic}.{rid}"
    if msgid not in catalogues.strings("console", "sv"):
        return None
    sv, en = (catalogues.text("console", lang, msgid) for lang in ("sv", "en"))
    return sv, en


def _topic_words(topic: str) -> tuple[str, str]:
    """The topic as it reads inside a reason (``referral_reason_topic.<topic>``), sv and en."""
    sv, en = (catalogues.text("console", lang, f"referral_reason_topic.{topic}") for lang in ("sv", "en"))
    return sv, en


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

    tsv, ten = _topic_words(topic)
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
        sv, en = _clear_reason(topic, rid) or reason(
            "clear", topic=(tsv, ten), recipient=(r.name_sv, r.name_en)
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
