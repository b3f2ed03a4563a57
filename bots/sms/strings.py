"""What the SMS channel itself answers a person (Swedish first, English second), by key.

``help`` answers HJÄLP (Swedish) or HELP (English); a deployment may replace it with
``channels.sms.help_sv`` / ``help_en``.  Kept short: one GSM-7 SMS each.
"""

from __future__ import annotations

from typing import Final

STRINGS: Final[dict[str, dict[str, str]]] = {
    "sv": {
        "help": (
            "Stödlinjen mot våldsbejakande extremism: skriv ditt meddelande så svarar en samtalsstödjare. "
            "Du är anonym. Skriv STOPP för att avsluta."
        ),
    },
    "en": {
        "help": (
            "Support line against violent extremism: write your message and a counsellor answers. "
            "You are anonymous. Write STOP to end."
        ),
    },
}
