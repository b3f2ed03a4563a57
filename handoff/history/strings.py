"""The words of the person panel, search, the audit page, care for counsellors and the close dialog
(Swedish first, English second), merged into the console's catalogue (``handoff.console.i18n``);
and what the person is told when they ask not to be recognised."""

from __future__ import annotations

HISTORY_STRINGS: dict[str, dict[str, str]] = {
    "sv": {
        "cancel": "Avbryt",
        "close_dialog_text": "Personen får veta att samtalet är avslutat. Det går inte att ångra.",
        "person": "Person",
        "person_none": "Inga tidigare samtal med den här personen.",
        "person_recognised": "Personen har skrivit tidigare ({n} samtal).",
        "person_unlinked": "Personen har bett att inte bli igenkänd mellan samtalen.",
        "person_open": "Visa dokumentation",
        "person_started": "Startade",
        "person_closed": "Avslutades",
        "person_summary": "Sammanfattning",
        "person_no_record": "Samtalet dokumenterades inte.",
        "person_referrals": "Hänvisningar",
        "person_no_referrals": "Inga hänvisningar.",
        "person_forget": "Glöm personen mellan samtalen",
        "person_forget_confirm": (
            "Personen ber att inte bli igenkänd: tidigare samtal kopplas bort från det här, och det "
            "här kopplas inte till nästa. Det går inte att ångra."
        ),
        "person_forgotten": "Personen känns inte längre igen mellan samtalen.",
        "search": "Sök",
        "search_title": "Sök i dokumentation och samtal",
        "search_kind": "Sök i",
        "search_kind_documentation": "Dokumentation",
        "search_kind_transcripts": "Samtal (inom lagringstiden)",
        "search_words": "Ord",
        "search_from": "Från och med",
        "search_to": "Till och med",
        "search_any": "Alla",
        "search_municipality": "Kommun (SCB-kod)",
        "search_button": "Sök",
        "search_none": "Inga träffar.",
        "search_hits": "{n} träffar",
        "search_date": "Datum",
        "search_matches": "Träffar i samtalet",
        "search_open": "Öppna",
        "search_open_transcript": "Öppna samtalet",
        "search_record": "Dokumentation",
        "page_prev": "Föregående",
        "page_next": "Nästa",
        "page_of": "Sida {page} av {pages}",
        "audit": "Granskningslogg",
        "audit_title": "Granskningslogg",
        "audit_actor": "Medarbetare (användarnamn)",
        "audit_conversation": "Samtal (id)",
        "audit_action": "Händelse",
        "audit_at": "Tid",
        "audit_details": "Detaljer",
        "audit_filter": "Visa",
        "audit_export": "Exportera CSV",
        "audit_none": "Inga händelser.",
        "care_title": "Ett tungt samtal",
        "care_text": (
            "Du har just avslutat ett kritiskt samtal. Ta gärna en kort paus innan nästa, och skriv "
            "några rader till en arbetsledare om du vill prata om det."
        ),
        "care_note": "Kort anteckning till arbetsledaren (valfritt)",
        "care_send": "Skicka till arbetsledaren",
        "care_break": "Ta en paus",
        "care_break_offer": "Ta den paus du behöver. Du behöver inte ta nästa samtal direkt.",
        "care_break_set": "Din status är nu paus. Ta den tid du behöver.",
        "care_sent": "Anteckningen är skickad till arbetsledarna.",
        "care_shift_title": "Kritiska samtal det senaste dygnets pass (12 timmar)",
        "care_shift_none": "Ingen har haft ett kritiskt samtal de senaste 12 timmarna.",
        "care_count": "Kritiska samtal",
        "care_last": "Senast",
        "care_debriefs": "Anteckningar från samtalsstödjare",
        "care_no_debriefs": "Inga anteckningar.",
        "error_note_required": "Skriv en anteckning.",
        "error_not_yours": "Det var inte ditt samtal.",
        "error_bad_date": "Datumet ska skrivas ÅÅÅÅ-MM-DD.",
        "error_bad_page": "Ogiltig sida.",
        "error_bad_filter": "Ogiltigt filter.",
    },
    "en": {
        "cancel": "Cancel",
        "close_dialog_text": "The person is told that the conversation is closed. This cannot be undone.",
        "person": "Person",
        "person_none": "No earlier conversations with this person.",
        "person_recognised": "The person has written before ({n} conversations).",
        "person_unlinked": "The person asked not to be recognised between conversations.",
        "person_open": "Show documentation",
        "person_started": "Started",
        "person_closed": "Closed",
        "person_summary": "Summary",
        "person_no_record": "The conversation was not documented.",
        "person_referrals": "Referrals",
        "person_no_referrals": "No referrals.",
        "person_forget": "Forget the person between conversations",
        "person_forget_confirm": (
            "The person asks not to be recognised: earlier conversations are unlinked from this one, "
            "and this one is not linked to the next. This cannot be undone."
        ),
        "person_forgotten": "The person is no longer recognised between conversations.",
        "search": "Search",
        "search_title": "Search documentation and conversations",
        "search_kind": "Search in",
        "search_kind_documentation": "Documentation",
        "search_kind_transcripts": "Conversations (within retention)",
        "search_words": "Words",
        "search_from": "From",
        "search_to": "To",
        "search_any": "Any",
        "search_municipality": "Municipality (SCB code)",
        "search_button": "Search",
        "search_none": "No results.",
        "search_hits": "{n} results",
        "search_date": "Date",
        "search_matches": "Matches in the conversation",
        "search_open": "Open",
        "search_open_transcript": "Open the conversation",
        "search_record": "Documentation",
        "page_prev": "Previous",
        "page_next": "Next",
        "page_of": "Page {page} of {pages}",
        "audit": "Audit log",
        "audit_title": "Audit log",
        "audit_actor": "Staff member (user name)",
        "audit_conversation": "Conversation (id)",
        "audit_action": "Action",
        "audit_at": "Time",
        "audit_details": "Details",
        "audit_filter": "Show",
        "audit_export": "Export CSV",
        "audit_none": "No events.",
        "care_title": "A heavy conversation",
        "care_text": (
            "You have just closed a critical conversation. Take a short break before the next one, "
            "and write a few lines to a supervisor if you would like to talk about it."
        ),
        "care_note": "Short note to the supervisor (optional)",
        "care_send": "Send to the supervisor",
        "care_break": "Take a break",
        "care_break_offer": "Take the break you need. You do not have to take the next conversation at once.",
        "care_break_set": "Your status is now break. Take the time you need.",
        "care_sent": "The note has been sent to the supervisors.",
        "care_shift_title": "Critical conversations in the shift (last 12 hours)",
        "care_shift_none": "Nobody has had a critical conversation in the last 12 hours.",
        "care_count": "Critical conversations",
        "care_last": "Latest",
        "care_debriefs": "Notes from counsellors",
        "care_no_debriefs": "No notes.",
        "error_note_required": "Write a note.",
        "error_not_yours": "It was not your conversation.",
        "error_bad_date": "Write the date as YYYY-MM-DD.",
        "error_bad_page": "Invalid page.",
        "error_bad_filter": "Invalid filter.",
    },
}

# What the person is told in the chat when they asked not to be recognised (their language: English
# for English, else Swedish, as the channels' own texts).
PERSON_FORGET_TEXTS: dict[str, str] = {
    "sv": (
        "Vi känner inte längre igen dig mellan samtalen: dina tidigare samtal kopplas inte till det "
        "här, och det här kopplas inte till nästa."
    ),
    "en": (
        "We no longer recognise you between conversations: your earlier conversations are not linked "
        "to this one, and this one will not be linked to the next."
    ),
}
