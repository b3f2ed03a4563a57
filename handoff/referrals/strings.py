"""The referrals' words: the labels of topics, contact types and urgencies, the consent question
and the thanks for the person's answer to it (Swedish, English)."""

from __future__ import annotations

from collections.abc import Mapping

TOPIC_LABELS: dict[str, tuple[str, str]] = {
    "crime": ("brott", "a crime"),
    "imminent_danger": ("akut fara", "imminent danger"),
    "child_at_risk": ("barn som far illa", "a child at risk"),
    "radicalisation_concern": ("oro för radikalisering", "concern about radicalisation"),
    "exit": ("avhopp", "leaving a movement"),
    "self_harm": ("självskada eller självmordstankar", "self-harm or suicidal thoughts"),
    "travel_conflict": ("resa till konfliktområde", "travel to a conflict zone"),
    "violence_close_relationship": ("våld i nära relation", "violence in a close relationship"),
    "professional_advice": ("råd till yrkesverksamma", "advice for professionals"),
    "trauma": ("trauma", "trauma"),
}
CONTACT_TYPE_LABELS: dict[str, tuple[str, str]] = {
    "relative": ("anhörig", "relative"),
    "professional": ("yrkesverksam", "professional"),
    "person_leaving": ("person som vill lämna", "person leaving"),
    "other": ("annan", "other"),
}
URGENCY_LABELS: dict[str, tuple[str, str]] = {
    "normal": ("normal", "normal"),
    "urgent": ("brådskande", "urgent"),
}
CONSENT_QUESTION: dict[str, dict[str, str]] = {
    "sv": {
        "intro": "Din samtalsstödjare föreslår att vi lämnar över ditt ärende till {recipient}. "
        "Det här är exakt vad som skulle skickas:",
        "topic": "- Ämne: {}",
        "municipality": "- Kommun: {}",
        "no_municipality": "ingen angiven",
        "contact_type": "- Du är: {}",
        "urgency": "- Brådska: {}",
        "summary": "- Sammanfattning: {}",
        "contact": "- Kontaktuppgifter: {}",
        "no_contact": "- Kontaktuppgifter: inga (mottagaren kan inte kontakta dig)",
        "ask": "Inget annat skickas. Svara JA om du vill att vi skickar det, eller NEJ om du inte vill. "
        "Ditt svar påverkar inte stödet du får här.",
    },
    "en": {
        "intro": "Your counsellor suggests that we pass your case on to {recipient}. "
        "This is exactly what would be sent:",
        "topic": "- Topic: {}",
        "municipality": "- Municipality: {}",
        "no_municipality": "not given",
        "contact_type": "- You are: {}",
        "urgency": "- Urgency: {}",
        "summary": "- Summary: {}",
        "contact": "- Contact details: {}",
        "no_contact": "- Contact details: none (they cannot contact you)",
        "ask": "Nothing else is sent. Answer YES if you want us to send it, or NO if you do not. "
        "Your answer does not change the support you get here.",
    },
}
"""The consent question, line by line, by language: exactly what would be shared."""

THANKS: dict[tuple[bool, str], str] = {
    (True, "sv"): "Tack. Vi skickar uppgifterna som vi visade dig, och inget annat.",
    (True, "en"): "Thank you. We will send the details we showed you, and nothing else.",
    (False, "sv"): "Tack. Vi skickar ingenting. Du kan fortsätta skriva till oss här.",
    (False, "en"): "Thank you. We will not send anything. You can go on writing to us here.",
}
"""The answer to the person's own answer to the consent question, by (consent, language)."""


def label(table: Mapping[str, tuple[str, str]], key: str, language: str) -> str:
    sv, en = table.get(key, (key, key))
    return en if language == "en" else sv


# Why a recipient is proposed (handoff.referrals.routing): {municipality}, {recipient}, {topic} and
# {hours} are filled in, each in the reason's language.
REASONS: dict[str, dict[str, str]] = {
    "sv": {
        "clear": "Tydlig mottagare vid {topic}: {recipient}.",
        "child_local": (
            "Barn som far illa: orosanmälan till socialtjänsten i {municipality}. "
            "Utanför kontorstid nås socialjouren via 112."
        ),
        "child_no_municipality": (
            "Barn som far illa och ingen kommun angiven: BRIS stöttar barnet; fråga efter kommun "
            "för en orosanmälan till socialtjänsten."
        ),
        "kunskapshus": "{municipality} ingår i området för {recipient}, som tar emot ärenden om {topic}.",
        "social_services": "Socialtjänsten i {municipality} kan ge lokalt stöd vid {topic}.",
        "local": "{municipality} ingår i området för {recipient}, som arbetar med {topic}.",
        "national_no_municipality": "Ingen kommun angiven: {recipient} arbetar nationellt med {topic}.",
        "national": "{recipient} arbetar nationellt med {topic}.",
        "closed_now": "Stängt just nu (öppettider: {hours}).",
    },
    "en": {
        "clear": "The clear recipient for {topic}: {recipient}.",
        "child_local": (
            "A child at risk: report the concern to the social services of {municipality}. "
            "Out of office hours the social emergency service is reached through 112."
        ),
        "child_no_municipality": (
            "A child at risk and no municipality given: BRIS supports the child; ask for the "
            "municipality to report the concern to its social services."
        ),
        "kunskapshus": "{municipality} is in the area of {recipient}, which receives cases of {topic}.",
        "social_services": "The social services of {municipality} can give local support with {topic}.",
        "local": "{municipality} is in the area of {recipient}, which works with {topic}.",
        "national_no_municipality": "No municipality given: {recipient} works nationally with {topic}.",
        "national": "{recipient} works nationally with {topic}.",
        "closed_now": "Closed right now (opening hours: {hours}).",
    },
}


def reason(key: str, **values: str | tuple[str, str]) -> tuple[str, str]:
    """The reason ``key`` in Swedish and in English; a value given as a (sv, en) pair is put in
    each language's text in its own language."""

    def fill(lang: str, i: int) -> str:
        return REASONS[lang][key].format(
            **{k: (v[i] if isinstance(v, tuple) else v) for k, v in values.items()}
        )

    return fill("sv", 0), fill("en", 1)
