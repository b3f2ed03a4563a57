"""The reports' labels, in Swedish and English (a report carries both): channels, priorities, intents,
the waiting-time bins and the dimensions, from the ``console`` catalogue (ids ``report.*``)."""

from __future__ import annotations

import math

from gateway import catalogues

Label = dict[str, str]
REPORT_LANGUAGES = ("sv", "en")


def _l(sv: str, en: str) -> Label:
    return {"sv": sv, "en": en}


def label(msgid: str) -> Label:
    """A catalogue id in the report's languages."""
    return {lang: catalogues.text("console", lang, msgid) for lang in REPORT_LANGUAGES}


def _table(prefix: str, keys: tuple[str, ...]) -> dict[str, Label]:
    return {key: label(f"{prefix}{key}") for key in keys}


CHANNELS: dict[str, Label] = _table(
    "report.channels.",
    (
        "webchat",
        "email",
        "telegram",
        "xmpp",
        "sms",
        "phone",
    ),
)
PRIORITIES: dict[str, Label] = _table(
    "report.priorities.",
    (
        "low",
        "normal",
        "high",
        "critical",
    ),
)
LANGUAGES: dict[str, Label] = _table(
    "report.languages.",
    ("sv", "en", "ar", "fa", "so", "ti", "tr", "ku", "bs", "ru", "und"),
)
"""The language of each conversation (the triage's, or the one the person picked)."""
PRIORITY_KEYS = ("low", "normal", "high", "critical")
INTENTS: dict[str, Label] = _table(
    "report.intents.",
    (
        "urgent_threat",
        "self_harm",
        "travel_conflict",
        "leave_movement",
        "concern_relative",
        "concern_professional",
        "human_request",
        "info_request",
        "greet",
        "goodbye",
        "out_of_scope",
        "none",
    ),
)
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
EXTRA: dict[str, Label] = _table(
    "report.extra.",
    (
        NOT_DOCUMENTED,
        UNKNOWN,
        "yes",
        "no",
    ),
)
WAIT_BINS: tuple[tuple[str, float, Label], ...] = (
    ("under_1", 1, label("report.wait.under_1")),
    ("1_5", 5, label("report.wait.1_5")),
    ("5_15", 15, label("report.wait.5_15")),
    ("15_60", 60, label("report.wait.15_60")),
    ("60_240", 240, label("report.wait.60_240")),
    ("over_240", math.inf, label("report.wait.over_240")),
)
NOT_ANSWERED = "not_answered"
NOT_ANSWERED_LABEL = label("report.extra.not_answered")

DIMENSION_LABELS: dict[str, Label] = _table(
    "report.dimension_labels.",
    (
        "channel",
        "language",
        "priority",
        "intent",
        "contact_type",
        "environment",
        "age_group",
        "gender",
        "county",
        "municipality",
        "outcome",
        "referral_made",
        "crime_info_passed",
        "waiting",
        "month",
        "call_outcome",
        "call_duration",
    ),
)
CALL_OUTCOMES: dict[str, Label] = _table(
    "report.call_outcomes.", ("answered", "missed", "abandoned", "callback")
)
CALL_DURATION_BINS: tuple[tuple[str, float, Label], ...] = tuple(
    (key, limit, label(f"report.call_duration.{key}"))
    for key, limit in (("under_5", 5), ("5_15", 15), ("15_30", 30), ("30_60", 60), ("over_60", math.inf))
)
