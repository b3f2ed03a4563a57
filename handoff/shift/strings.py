"""The shift's words in the console (sv first, en second), merged into :mod:`handoff.console.i18n`."""

from __future__ import annotations

SHIFT_STRINGS: dict[str, dict[str, str]] = {
    "sv": {
        "my_status": "Min status",
        "status_available": "Tillgänglig",
        "status_break": "Rast",
        "status_away": "Borta",
        "status_auto": "(automatiskt)",
        "status_saved": "Din status är nu: {status}.",
        "status_away_auto_note": "Du sattes som borta efter en stunds inaktivitet. Du är tillgänglig igen.",
        "next_conversation": "Nästa samtal",
        "next_taken": "Du tog nästa samtal.",
        "queue_empty_next": "Ingen väntar i kön just nu.",
        "error_queue_empty": "Ingen väntar i kön just nu.",
        "next_only": (
            "Här tar samtalsstödjare samtal i tur och ordning: använd knappen ”Nästa samtal”. "
            "Arbetsledare kan välja fritt ur kön."
        ),
        "error_next_only": (
            "Här tar samtalsstödjare samtal i tur och ordning: använd knappen ”Nästa samtal”. "
            "Arbetsledare kan välja fritt ur kön."
        ),
        "next_only_hint": "Samtalen tas i tur och ordning: det mest brådskande först.",
        "error_not_available": (
            "Du har status rast eller borta och får inga nya samtal. Sätt dig som tillgänglig för att "
            "ta nästa samtal."
        ),
        "next_not_available": "Sätt din status till Tillgänglig för att ta nästa samtal.",
        "unknown_status": "Okänd status.",
        "on_duty": "I tjänst (tillgängliga)",
        "status": "Status",
        "notify_new_title": "Nytt samtal i kön",
        "notify_critical_title": "Kritiskt samtal i kön",
        "notify_reminder_title": "Ett samtal väntar för länge",
        "reminder_text": "Ett samtal med prioritet {priority} har väntat {wait} (målet är {target}).",
        "reminder_show_queue": "Visa kön",
        "notify_off": "Skrivbordsaviseringar är inte påslagna, så du märker inte nya samtal när fönstret ligger i bakgrunden.",
        "notify_enable": "Slå på aviseringar",
        "notify_blocked": (
            "Webbläsaren blockerar aviseringar från konsolen. Tillåt aviseringar för den här sidan i "
            "webbläsarens inställningar (ikonen vid adressfältet) och försök igen."
        ),
        "notify_retry": "Försök igen",
        "notify_unsupported": "Den här webbläsaren kan inte visa skrivbordsaviseringar. Håll konsolen synlig.",
        "sound_blocked": "Webbläsaren blockerar ljudet, så larm hörs inte.",
        "sound_enable": "Slå på ljud",
        "minutes_short": "{n} min",
        "attention_label": "Larm och aviseringar",
        "status_changed_elsewhere": "Din status ändrades: {status}.",
    },
    "en": {
        "my_status": "My status",
        "status_available": "Available",
        "status_break": "On a break",
        "status_away": "Away",
        "status_auto": "(automatic)",
        "status_saved": "Your status is now: {status}.",
        "status_away_auto_note": "You were set away after a while without activity. You are available again.",
        "next_conversation": "Next conversation",
        "next_taken": "You took the next conversation.",
        "queue_empty_next": "Nobody is waiting in the queue right now.",
        "error_queue_empty": "Nobody is waiting in the queue right now.",
        "next_only": (
            "Here counsellors take conversations in turn: use the “Next conversation” button. "
            "Supervisors may pick freely from the queue."
        ),
        "error_next_only": (
            "Here counsellors take conversations in turn: use the “Next conversation” button. "
            "Supervisors may pick freely from the queue."
        ),
        "next_only_hint": "Conversations are taken in turn: the most urgent first.",
        "error_not_available": (
            "Your status is on a break or away, so you are offered no new conversations. Set yourself "
            "available to take the next conversation."
        ),
        "next_not_available": "Set your status to Available to take the next conversation.",
        "unknown_status": "Unknown status.",
        "on_duty": "On duty (available)",
        "status": "Status",
        "notify_new_title": "New conversation in the queue",
        "notify_critical_title": "Critical conversation in the queue",
        "notify_reminder_title": "A conversation is waiting too long",
        "reminder_text": "A conversation of priority {priority} has waited {wait} (the target is {target}).",
        "reminder_show_queue": "Show the queue",
        "notify_off": "Desktop notifications are off, so you will not notice new conversations while the window is in the background.",
        "notify_enable": "Turn on notifications",
        "notify_blocked": (
            "The browser blocks notifications from the console. Allow notifications for this page in "
            "the browser's settings (the icon by the address bar) and try again."
        ),
        "notify_retry": "Try again",
        "notify_unsupported": "This browser cannot show desktop notifications. Keep the console visible.",
        "sound_blocked": "The browser blocks sound, so alarms cannot be heard.",
        "sound_enable": "Turn on sound",
        "minutes_short": "{n} min",
        "attention_label": "Alarms and notifications",
        "status_changed_elsewhere": "Your status changed: {status}.",
    },
}

NEXT_ONLY_MESSAGE = {lang: words["next_only"] for lang, words in SHIFT_STRINGS.items()}
"""The claim route's refusal in next-only mode, in both languages."""
