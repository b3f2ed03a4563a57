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
