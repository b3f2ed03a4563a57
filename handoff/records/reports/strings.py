"""The reports' labels, in Swedish and English: channels, priorities, intents, the waiting-time
bins and the dimensions."""

from __future__ import annotations

import math

Label = dict[str, str]


def _l(sv: str, en: str) -> Label:
    return {"sv": sv, "en": en}


CHANNELS: dict[str, Label] = {
    "webchat": _l("Webbchatt", "Web chat"),
    "email": _l("E-post", "E-mail"),
    "telegram": _l("Telegram", "Telegram"),
    "xmpp": _l("XMPP", "XMPP"),
    "phone": _l("Telefon", "Phone"),
}
PRIORITIES: dict[str, Label] = {
    "low": _l("Låg", "Low"),
    "normal": _l("Normal", "Normal"),
    "high": _l("Hög", "High"),
    "critical": _l("Akut", "Critical"),
}
PRIORITY_KEYS = ("low", "normal", "high", "critical")
INTENTS: dict[str, Label] = {
    "urgent_threat": _l("Akut hot", "Urgent threat"),
    "self_harm": _l("Risk för självskada", "Self-harm"),
    "travel_conflict": _l("Resa till konfliktområde", "Travel to a conflict zone"),
    "leave_movement": _l("Vill lämna en miljö", "Wants to leave a movement"),
    "concern_relative": _l("Oro för anhörig", "Concern for a relative"),
    "concern_professional": _l("Oro i yrket", "Concern as a professional"),
    "human_request": _l("Vill prata med en person", "Asked for a person"),
    "info_request": _l("Fråga om information", "Information request"),
    "greet": _l("Hälsning", "Greeting"),
    "goodbye": _l("Avslutning", "Goodbye"),
    "out_of_scope": _l("Utanför uppdraget", "Out of scope"),
    "none": _l("Ingen", "None"),
}
# The priority each intent gives (as nlu.result.INTENT_PRIORITY; handoff does not import nlu):
# links the priority and intent dimensions for secondary suppression.
INTENT_PRIORITY: dict[str, int] = {
    "urgent_threat": 3,
    "self_harm": 3,
    "travel_conflict": 2,
    "leave_movement": 2,
    "concern_relative": 1,
    "concern_professional": 1,
    "human_request": 1,
    "info_request": 0,
    "greet": 0,
    "goodbye": 0,
    "out_of_scope": 0,
}
NOT_DOCUMENTED = "not_documented"
UNKNOWN = "unknown"
EXTRA: dict[str, Label] = {
    NOT_DOCUMENTED: _l("Ej dokumenterat", "Not documented"),
    UNKNOWN: _l("Okänd", "Unknown"),
    "yes": _l("Ja", "Yes"),
    "no": _l("Nej", "No"),
}
WAIT_BINS: tuple[tuple[str, float, Label], ...] = (
    ("under_1", 1, _l("Under 1 min", "Under 1 min")),
    ("1_5", 5, _l("1–5 min", "1–5 min")),
    ("5_15", 15, _l("5–15 min", "5–15 min")),
    ("15_60", 60, _l("15–60 min", "15–60 min")),
    ("60_240", 240, _l("1–4 tim", "1–4 h")),
    ("over_240", math.inf, _l("Över 4 tim", "Over 4 h")),
)
NOT_ANSWERED = "not_answered"
NOT_ANSWERED_LABEL = _l("Inte besvarat av rådgivare", "Not answered by a counsellor")

DIMENSION_LABELS: dict[str, Label] = {
    "channel": _l("Kanal", "Channel"),
    "priority": _l("Prioritet", "Priority"),
    "intent": _l("Ärende enligt triage", "Intent (triage)"),
    "contact_type": _l("Vem tog kontakt", "Who made contact"),
    "environment": _l("Miljö som oron gäller", "Environment of concern"),
    "age_group": _l("Åldersgrupp för personen det gäller", "Age group of the person of concern"),
    "gender": _l("Kön för personen det gäller", "Gender of the person of concern"),
    "county": _l("Län", "County"),
    "municipality": _l("Kommun", "Municipality"),
    "outcome": _l("Utfall", "Outcome"),
    "referral_made": _l("Slussning gjord", "Referral made"),
    "crime_info_passed": _l("Uppgifter om brott lämnade", "Crime information passed"),
    "waiting": _l("Väntetid till rådgivare", "Waiting time for a counsellor"),
    "month": _l("Samtal per månad", "Conversations per month"),
    "call_outcome": _l("Telefonsamtal: utfall", "Phone calls: outcome"),
    "call_duration": _l("Besvarade telefonsamtal: längd", "Answered phone calls: length"),
}
CALL_OUTCOMES: dict[str, Label] = {
    "answered": _l("Besvarat", "Answered"),
    "missed": _l("Missat (ingen svarade)", "Missed (no one answered)"),
    "abandoned": _l("Lade på i kön", "Hung up in the queue"),
    "callback": _l("Vill bli uppringd", "Callback requested"),
}
CALL_DURATION_BINS: tuple[tuple[str, float, Label], ...] = (
    ("under_5", 5, _l("Under 5 min", "Under 5 min")),
    ("5_15", 15, _l("5–15 min", "5–15 min")),
    ("15_30", 30, _l("15–30 min", "15–30 min")),
    ("30_60", 60, _l("30–60 min", "30–60 min")),
    ("over_60", math.inf, _l("Över 60 min", "Over 60 min")),
)
