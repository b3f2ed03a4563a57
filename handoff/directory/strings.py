"""The directory's words (Swedish, English): opening hours for people to read."""

from __future__ import annotations

# Opening hours in words (handoff.directory.entries.OpeningHours.describe).
HOURS_WORDS: dict[str, dict[str, str]] = {
    "sv": {
        "always": "dygnet runt",
        "mon": "mån",
        "tue": "tis",
        "wed": "ons",
        "thu": "tor",
        "fri": "fre",
        "sat": "lör",
        "sun": "sön",
    },
    "en": {
        "always": "day and night",
        "mon": "Mon",
        "tue": "Tue",
        "wed": "Wed",
        "thu": "Thu",
        "fri": "Fri",
        "sat": "Sat",
        "sun": "Sun",
    },
}
