"""The console's words, Swedish first and English second.

Templates get the strings of the page's language as ``t``; the page's script gets the same
dictionary as a JSON data block (never inline script).
"""

from __future__ import annotations

from handoff.history.strings import HISTORY_STRINGS
from handoff.phone.strings import PHONE_STRINGS
from handoff.shift.strings import SHIFT_STRINGS
from handoff.staff.strings import STAFF_STRINGS

from .i18n_triage import LANGUAGE_NAMES, TRIAGE_STRINGS

LANGUAGES = ("sv", "en")
DEFAULT_LANGUAGE = "sv"

STRINGS: dict[str, dict[str, str]] = {
    "sv": {
        "app_title": "Stödlinjen – samtalsstöd",
        "login_title": "Logga in",
        "username": "Användarnamn",
        "password": "Lösenord",
        "login_button": "Logga in",
        "login_invalid": (
            "Fel användarnamn eller lösenord, eller så är kontot tillfälligt låst efter för många "
            "misslyckade försök. Försök igen senare."
        ),
        "login_rate_limited": "För många inloggningsförsök. Vänta en stund och försök igen.",
        "login_expired": "Formuläret har gått ut. Försök igen.",
        "logout": "Logga ut",
        "forbidden_title": "Ingen behörighet",
        "forbidden_text": "Ditt konto har inte tillgång till samtalsstödet.",
        "language": "Språk",
        "queue": "Kö",
        "queue_empty": "Ingen väntar just nu.",
        "priority": "Prioritet",
        "channel": "Kanal",
        "intent": "Ärende",
        "waiting": "Väntat",
        "messages": "Meddelanden",
        "claim": "Ta samtalet",
        "my_conversations": "Mina samtal",
        "none_assigned": "Du har inga samtal. Ta ett samtal från kön.",
        "load": "Samtal",
        "of": "av",
        "alert_critical": "Kritiskt samtal i kön – ta det nu!",
        "dismiss": "Stäng",
        "already_claimed": "Någon annan hann ta samtalet.",
        "capacity_full": "Du har redan så många samtal du kan ha.",
        "not_assigned_to_you": "Samtalet är inte ditt längre.",
        "error": "Något gick fel. Försök igen.",
        "offline": "Anslutningen bröts – återansluter …",
        "triage": "Bedömning",
        "confidence": "Säkerhet",
        "matched_rules": "Träffade regler",
        "suggested": "Föreslaget svar",
        "use": "Använd",
        "canned": "Färdiga svar",
        "choose": "Välj …",
        "reply": "Svar",
        "send": "Skicka",
        "person_typing": "Personen skriver …",
        "transfer_to": "Överlämna till (användarnamn)",
        "transfer": "Överlämna",
        "release": "Tillbaka till kön",
        "close": "Avsluta samtalet",
        "confirm_close": "Avsluta samtalet?",
        "closed": "Samtalet är avslutat.",
        "kind_person": "Person",
        "kind_bot": "Automatiskt svar",
        "kind_counsellor": "Samtalsstöd",
        "kind_system": "System",
        "unreachable": "Personen går inte att nå i kanalen.",
        "supervisor": "Arbetsledning",
        "triage_admin": "Bedömning – administration",
        "console": "Samtalsstöd",
        "active_conversations": "Pågående samtal",
        "state": "Läge",
        "assigned_to": "Hos",
        "counsellors": "Samtalsstödjare",
        "role": "Roll",
        "capacity": "Kapacitet",
        "open_transcript": "Läs",
        "audit": "Granskningslogg",
        "at": "Tid",
        "actor": "Vem",
        "action": "Händelse",
        "p_critical": "Kritisk",
        "p_high": "Hög",
        "p_normal": "Normal",
        "p_low": "Låg",
        "s_bot": "Bot",
        "s_queued": "I kö",
        "s_assigned": "Tilldelat",
        "s_closed": "Avslutat",
    },
    "en": {
        "app_title": "Support line – counselling",
        "login_title": "Sign in",
        "username": "User name",
        "password": "Password",
        "login_button": "Sign in",
        "login_invalid": (
            "Wrong user name or password, or the account is locked for a while after too many "
            "failed attempts. Try again later."
        ),
        "login_rate_limited": "Too many sign-in attempts. Wait a moment and try again.",
        "login_expired": "The form has expired. Try again.",
        "logout": "Sign out",
        "forbidden_title": "Not allowed",
        "forbidden_text": "Your account has no access to the counselling console.",
        "language": "Language",
        "queue": "Queue",
        "queue_empty": "Nobody is waiting right now.",
        "priority": "Priority",
        "channel": "Channel",
        "intent": "Intent",
        "waiting": "Waiting",
        "messages": "Messages",
        "claim": "Take",
        "my_conversations": "My conversations",
        "none_assigned": "You have no conversations. Take one from the queue.",
        "load": "Conversations",
        "of": "of",
        "alert_critical": "Critical conversation in the queue – take it now!",
        "dismiss": "Dismiss",
        "already_claimed": "Someone else took the conversation first.",
        "capacity_full": "You already hold as many conversations as you can.",
        "not_assigned_to_you": "The conversation is no longer yours.",
        "error": "Something went wrong. Try again.",
        "offline": "Connection lost – reconnecting …",
        "triage": "Triage",
        "confidence": "Confidence",
        "matched_rules": "Matched rules",
        "suggested": "Suggested response",
        "use": "Use",
        "canned": "Canned responses",
        "choose": "Choose …",
        "reply": "Reply",
        "send": "Send",
        "person_typing": "The person is typing …",
        "transfer_to": "Transfer to (user name)",
        "transfer": "Transfer",
        "release": "Back to the queue",
        "close": "Close conversation",
        "confirm_close": "Close the conversation?",
        "closed": "The conversation is closed.",
        "kind_person": "Person",
        "kind_bot": "Automatic response",
        "kind_counsellor": "Counsellor",
        "kind_system": "System",
        "unreachable": "The person cannot be reached on the channel.",
        "supervisor": "Supervision",
        "triage_admin": "Triage – administration",
        "console": "Console",
        "active_conversations": "Active conversations",
        "state": "State",
        "assigned_to": "With",
        "counsellors": "Counsellors",
        "role": "Role",
        "capacity": "Capacity",
        "open_transcript": "Read",
        "audit": "Audit log",
        "at": "Time",
        "actor": "Who",
        "action": "Event",
        "p_critical": "Critical",
        "p_high": "High",
        "p_normal": "Normal",
        "p_low": "Low",
        "s_bot": "Bot",
        "s_queued": "Queued",
        "s_assigned": "Assigned",
        "s_closed": "Closed",
    },
}

INTENT_LABELS: dict[str, dict[str, str]] = {
    "sv": {
        "urgent_threat": "Akut hot",
        "self_harm": "Självskada",
        "travel_conflict": "Resa till konflikt",
        "leave_movement": "Vill lämna",
        "concern_relative": "Oro, anhörig",
        "concern_professional": "Oro, yrkesperson",
        "human_request": "Vill prata med någon",
        "info_request": "Fråga om tjänsten",
        "greet": "Hälsning",
        "goodbye": "Avslut",
        "out_of_scope": "Utanför uppdraget",
    },
    "en": {
        "urgent_threat": "Urgent threat",
        "self_harm": "Self-harm",
        "travel_conflict": "Travel to conflict",
        "leave_movement": "Wants to leave",
        "concern_relative": "Concern, relative",
        "concern_professional": "Concern, professional",
        "human_request": "Wants a person",
        "info_request": "About the service",
        "greet": "Greeting",
        "goodbye": "Goodbye",
        "out_of_scope": "Out of scope",
    },
}


def pick_language(*candidates: str | None) -> str:
    """The first candidate that is a supported language, else Swedish."""
    for lang in candidates:
        if lang in LANGUAGES:
            return lang
    return DEFAULT_LANGUAGE


def strings(lang: str) -> dict[str, str]:
    return STRINGS[pick_language(lang)]


def client_strings(lang: str) -> dict[str, object]:
    """What the page's script needs: the strings, the intent labels and the languages' names."""
    lang = pick_language(lang)
    return {
        "lang": lang,
        "t": STRINGS[lang],
        "intents": INTENT_LABELS[lang],
        "languages": LANGUAGE_NAMES[lang],
    }


# ---------------------------------------------------------------------- handoffs
# Referrals, crime information (disclosures), the supervisor's four eyes and the municipality portal.
HANDOFF_STRINGS: dict[str, dict[str, str]] = {
    "sv": {
        "ho_refer": "Hänvisa",
        "ho_municipality": "Kommun (SCB-kod, valfritt)",
        "ho_municipality_hint": "t.ex. 1480",
        "ho_unknown_municipality": "Okänd kommunkod",
        "ho_topic": "Ämne",
        "ho_contact_type": "Kontakttyp",
        "ho_propose": "Föreslå mottagare",
        "ho_no_proposals": "Inga förslag för det valet.",
        "ho_open_now": "öppet nu",
        "ho_closed_now": "stängt nu",
        "ho_choose_recipient": "Välj mottagare",
        "ho_summary": "Kort sammanfattning (det här delas)",
        "ho_urgency": "Brådska",
        "ho_contact_details": "Kontaktuppgifter (bara om personen vill bli kontaktad)",
        "ho_create_referral": "Skapa hänvisning",
        "ho_referrals": "Hänvisningar",
        "ho_no_referrals": "Inga hänvisningar ännu.",
        "ho_ask_consent": "Be om samtycke",
        "ho_not_asked": "Samtycke kunde inte inhämtas",
        "ho_not_asked_reason": "Varför kunde samtycke inte inhämtas? (obligatoriskt)",
        "ho_save": "Spara",
        "ho_cancel": "Avbryt",
        "ho_refresh": "Uppdatera",
        "ho_time_to_ack": "Tid till kvittens",
        "ho_not_acknowledged": "Ej kvitterad",
        "ho_waiting_answer": "Väntar på personens svar (JA/NEJ i kanalen).",
        "ho_nothing_sent": "Inget skickas.",
        "ho_consent_reason": "Skäl",
        "ho_rs_proposed": "Föreslagen",
        "ho_rs_consent_requested": "Samtycke efterfrågat",
        "ho_rs_consented": "Samtycke givet",
        "ho_rs_refused": "Samtycke nekat",
        "ho_rs_consent_not_asked": "Samtycke kunde inte inhämtas",
        "ho_rs_sent": "Skickad",
        "ho_rs_received": "Mottagen",
        "ho_rs_contact_made": "Kontakt tagen",
        "ho_rs_closed": "Avslutad",
        "ho_rs_not_ours": "Inte vårt ärende",
        "ho_crime": "Brottsuppgift",
        "ho_what": "Vad",
        "ho_when": "När",
        "ho_where": "Var",
        "ho_certainty": "Hur säkert",
        "ho_sources": "Källa i samtalet (meddelanden)",
        "ho_sources_hint": "Markera ett eller flera av personens meddelanden.",
        "ho_recipient": "Mottagare",
        "ho_legal_ground": "Rättslig grund",
        "ho_identity_note": "Grunden kräver att personens identitet lämnas.",
        "ho_immediate_danger": "Någon är i akut fara (skickas direkt, granskas i efterhand)",
        "ho_create_disclosure": "Skapa brottsuppgift",
        "ho_disclosures": "Brottsuppgifter",
        "ho_ds_pending_approval": "Väntar på godkännande",
        "ho_ds_approved": "Godkänd, skickas",
        "ho_ds_rejected": "Avslagen",
        "ho_ds_sent": "Skickad",
        "ho_ds_delivery_failed": "Kunde inte skickas",
        "ho_for_review": "Ska granskas i efterhand",
        "ho_reviewed": "Granskad",
        "ho_created": "Skapad",
        "ho_sent_at": "Skickad",
        "ho_pending_title": "Brottsuppgifter att godkänna",
        "ho_review_title": "Akut skickade brottsuppgifter att granska",
        "ho_none_pending": "Inget väntar på godkännande.",
        "ho_none_review": "Inget att granska.",
        "ho_approve": "Godkänn och skicka",
        "ho_reject": "Avslå",
        "ho_reject_reason": "Skäl till avslag",
        "ho_review": "Markera som granskad",
        "ho_review_note": "Anteckning",
        "ho_approved_ok": "Godkänd – skickas till mottagaren.",
        "ho_rejected_ok": "Avslagen – inget skickas.",
        "ho_reviewed_ok": "Granskad.",
        "ho_created_ok": "Skapad.",
        "ho_portal": "Kommunportal",
        "ho_portal_title": "Hänvisningar till er",
        "ho_portal_units": "Enhet",
        "ho_portal_empty": "Inga hänvisningar.",
        "ho_reference": "Referens",
        "ho_language": "Språk",
        "ho_acknowledge": "Kvittera mottagen",
        "ho_acknowledged_at": "Kvitterad",
        "ho_follow_up": "Uppföljning",
        "ho_report": "Rapportera",
        "ho_note": "Anteckning (valfri)",
        "ho_contact_none": "Inga (personen kan inte kontaktas)",
        "error_supervisor_required": "Bara en arbetsledare kan göra det.",
        "error_four_eyes": "Du skrev uppgiften själv – en annan arbetsledare måste godkänna (fyra ögon).",
        "error_not_pending": "Uppgiften väntar inte längre på godkännande.",
        "error_no_review_due": "Det finns ingen granskning att göra.",
        "error_reason_required": "Ange ett skäl.",
        "error_summary_required": "Skriv en kort sammanfattning.",
        "error_unknown_recipient": "Välj en mottagare.",
        "error_unknown_municipality": "Okänd kommunkod.",
        "error_what_required": "Beskriv vad som har hänt.",
        "error_source_required": "Markera minst ett meddelande som källa.",
        "error_unknown_source_message": "Ett markerat meddelande finns inte i samtalet.",
        "error_unknown_legal_ground": "Välj en rättslig grund.",
        "error_unknown_certainty": "Välj hur säkert det är.",
        "error_invalid_transition": "Den ändringen går inte i ärendets nuvarande läge.",
        "error_not_found": "Hittades inte.",
        "error_forbidden": "Ingen behörighet.",
        "error_recipient_takes_no_handoffs": "Mottagaren tar inte emot hänvisningar härifrån.",
        "error_contact_details_too_long": "Kontaktuppgifterna är för långa.",
        "ho_topic_crime": "Brott",
        "ho_topic_imminent_danger": "Akut fara",
        "ho_topic_child_at_risk": "Barn som far illa",
        "ho_topic_radicalisation_concern": "Oro för radikalisering",
        "ho_topic_exit": "Avhopp",
        "ho_topic_self_harm": "Självskada eller självmordstankar",
        "ho_topic_travel_conflict": "Resa till konfliktområde",
        "ho_topic_violence_close_relationship": "Våld i nära relation",
        "ho_topic_professional_advice": "Råd till yrkesverksamma",
        "ho_topic_trauma": "Trauma",
        "ho_ct_relative": "Anhörig",
        "ho_ct_professional": "Yrkesverksam",
        "ho_ct_person_leaving": "Person som vill lämna",
        "ho_ct_other": "Annan",
        "ho_urg_normal": "Normal",
        "ho_urg_urgent": "Brådskande",
        "ho_cert_confirmed": "Bekräftad",
        "ho_cert_probable": "Trolig",
        "ho_cert_possible": "Möjlig",
        "ho_cert_unverified": "Obekräftad",
        "ho_f_municipality": "Kommun",
        "ho_f_summary": "Sammanfattning",
        "ho_f_contact": "Kontaktuppgifter",
        "ho_f_note": "Anteckning",
    },
    "en": {
        "ho_refer": "Refer",
        "ho_municipality": "Municipality (SCB code, optional)",
        "ho_municipality_hint": "e.g. 1480",
        "ho_unknown_municipality": "Unknown municipality code",
        "ho_topic": "Topic",
        "ho_contact_type": "Contact type",
        "ho_propose": "Propose recipients",
        "ho_no_proposals": "No proposals for that choice.",
        "ho_open_now": "open now",
        "ho_closed_now": "closed now",
        "ho_choose_recipient": "Choose recipient",
        "ho_summary": "Short summary (this is shared)",
        "ho_urgency": "Urgency",
        "ho_contact_details": "Contact details (only if the person wants to be contacted)",
        "ho_create_referral": "Create referral",
        "ho_referrals": "Referrals",
        "ho_no_referrals": "No referrals yet.",
        "ho_ask_consent": "Ask for consent",
        "ho_not_asked": "Consent could not be asked",
        "ho_not_asked_reason": "Why could consent not be asked? (required)",
        "ho_save": "Save",
        "ho_cancel": "Cancel",
        "ho_refresh": "Refresh",
        "ho_time_to_ack": "Time to acknowledgement",
        "ho_not_acknowledged": "Not acknowledged",
        "ho_waiting_answer": "Waiting for the person's answer (YES/NO in the channel).",
        "ho_nothing_sent": "Nothing is sent.",
        "ho_consent_reason": "Reason",
        "ho_rs_proposed": "Proposed",
        "ho_rs_consent_requested": "Consent requested",
        "ho_rs_consented": "Consent given",
        "ho_rs_refused": "Consent refused",
        "ho_rs_consent_not_asked": "Consent could not be asked",
        "ho_rs_sent": "Sent",
        "ho_rs_received": "Received",
        "ho_rs_contact_made": "Contact made",
        "ho_rs_closed": "Closed",
        "ho_rs_not_ours": "Not ours",
        "ho_crime": "Crime information",
        "ho_what": "What",
        "ho_when": "When",
        "ho_where": "Where",
        "ho_certainty": "How certain",
        "ho_sources": "Source in the conversation (messages)",
        "ho_sources_hint": "Select one or more of the person's messages.",
        "ho_recipient": "Recipient",
        "ho_legal_ground": "Legal ground",
        "ho_identity_note": "This ground requires the person's identity to be passed.",
        "ho_immediate_danger": "Someone is in immediate danger (sent at once, reviewed afterwards)",
        "ho_create_disclosure": "Create crime information",
        "ho_disclosures": "Crime information",
        "ho_ds_pending_approval": "Awaiting approval",
        "ho_ds_approved": "Approved, being sent",
        "ho_ds_rejected": "Rejected",
        "ho_ds_sent": "Sent",
        "ho_ds_delivery_failed": "Could not be sent",
        "ho_for_review": "For review afterwards",
        "ho_reviewed": "Reviewed",
        "ho_created": "Created",
        "ho_sent_at": "Sent",
        "ho_pending_title": "Crime information awaiting approval",
        "ho_review_title": "Crime information sent at once, to review",
        "ho_none_pending": "Nothing awaits approval.",
        "ho_none_review": "Nothing to review.",
        "ho_approve": "Approve and send",
        "ho_reject": "Reject",
        "ho_reject_reason": "Reason for rejection",
        "ho_review": "Mark as reviewed",
        "ho_review_note": "Note",
        "ho_approved_ok": "Approved – being sent to the recipient.",
        "ho_rejected_ok": "Rejected – nothing is sent.",
        "ho_reviewed_ok": "Reviewed.",
        "ho_created_ok": "Created.",
        "ho_portal": "Municipality portal",
        "ho_portal_title": "Referrals to you",
        "ho_portal_units": "Unit",
        "ho_portal_empty": "No referrals.",
        "ho_reference": "Reference",
        "ho_language": "Language",
        "ho_acknowledge": "Acknowledge receipt",
        "ho_acknowledged_at": "Acknowledged",
        "ho_follow_up": "Follow-up",
        "ho_report": "Report",
        "ho_note": "Note (optional)",
        "ho_contact_none": "None (the person cannot be contacted)",
        "error_supervisor_required": "Only a supervisor can do that.",
        "error_four_eyes": "You wrote this yourself – another supervisor must approve it (four eyes).",
        "error_not_pending": "It no longer awaits approval.",
        "error_no_review_due": "There is no review to do.",
        "error_reason_required": "Give a reason.",
        "error_summary_required": "Write a short summary.",
        "error_unknown_recipient": "Choose a recipient.",
        "error_unknown_municipality": "Unknown municipality code.",
        "error_what_required": "Describe what happened.",
        "error_source_required": "Select at least one message as the source.",
        "error_unknown_source_message": "A selected message is not in the conversation.",
        "error_unknown_legal_ground": "Choose a legal ground.",
        "error_unknown_certainty": "Choose how certain it is.",
        "error_invalid_transition": "That change is not possible in the referral's current state.",
        "error_not_found": "Not found.",
        "error_forbidden": "Not allowed.",
        "error_recipient_takes_no_handoffs": "The recipient takes no handoffs from here.",
        "error_contact_details_too_long": "The contact details are too long.",
        "ho_topic_crime": "A crime",
        "ho_topic_imminent_danger": "Imminent danger",
        "ho_topic_child_at_risk": "A child at risk",
        "ho_topic_radicalisation_concern": "Concern about radicalisation",
        "ho_topic_exit": "Leaving a movement",
        "ho_topic_self_harm": "Self-harm or suicidal thoughts",
        "ho_topic_travel_conflict": "Travel to a conflict zone",
        "ho_topic_violence_close_relationship": "Violence in a close relationship",
        "ho_topic_professional_advice": "Advice for professionals",
        "ho_topic_trauma": "Trauma",
        "ho_ct_relative": "Relative",
        "ho_ct_professional": "Professional",
        "ho_ct_person_leaving": "Person leaving",
        "ho_ct_other": "Other",
        "ho_urg_normal": "Normal",
        "ho_urg_urgent": "Urgent",
        "ho_cert_confirmed": "Confirmed",
        "ho_cert_probable": "Probable",
        "ho_cert_possible": "Possible",
        "ho_cert_unverified": "Unverified",
        "ho_f_municipality": "Municipality",
        "ho_f_summary": "Summary",
        "ho_f_contact": "Contact details",
        "ho_f_note": "Note",
    },
}
for _lang, _words in HANDOFF_STRINGS.items():
    STRINGS[_lang].update(_words)


# ---------------------------------------------------------------------- situational picture
# The local situational picture on the municipality portal (handoff.records_web.portal_situation).
SITUATION_STRINGS: dict[str, dict[str, str]] = {
    "sv": {
        "sit_title": "Lokal lägesbild",
        "sit_intro": (
            "Dokumenterade samtal där kommunen som angavs ligger i ert område. "
            "Bara antal visas, aldrig uppgifter om enskilda."
        ),
        "sit_area": "Område",
        "sit_period": "Period",
        "sit_from": "Från",
        "sit_to": "Till och med",
        "sit_show": "Visa",
        "sit_last_30": "Senaste 30 dagarna",
        "sit_last_90": "Senaste 90 dagarna",
        "sit_last_365": "Senaste 12 månaderna",
        "sit_this_year": "I år",
        "sit_time_zone": "Datum och veckor enligt svensk tid (Europe/Stockholm).",
        "sit_suppression": (
            "Antal under 5 visas som ”<5”. Antal som annars skulle kunna räknas fram ur summor visas som ”..”."
        ),
        "sit_total": "Samtal totalt",
        "sit_weekly": "Samtal per vecka",
        "sit_week": "Vecka",
        "sit_category": "Kategori",
        "sit_count": "Antal",
        "sit_sum": "Summa",
        "sit_show_table": "Visa som tabell",
        "sit_hidden_legend": "Randig stapel: antalet publiceras inte (<5 eller ..), ritad lika hög oavsett antal.",
        "sit_download_csv": "Ladda ner (CSV)",
        "sit_printable": "Utskriftsvänlig rapport",
        "sit_error_unknown_area": "Ditt konto är inte kopplat till någon kommun eller något kunskapshus.",
        "sit_error_bad_period": "Ogiltig period: ange datum som ÅÅÅÅ-MM-DD, med slutdatum efter startdatum.",
    },
    "en": {
        "sit_title": "Local situational picture",
        "sit_intro": (
            "Documented conversations whose municipality lies in your area. "
            "Only counts are shown, never anything about individuals."
        ),
        "sit_area": "Area",
        "sit_period": "Period",
        "sit_from": "From",
        "sit_to": "To (included)",
        "sit_show": "Show",
        "sit_last_30": "Last 30 days",
        "sit_last_90": "Last 90 days",
        "sit_last_365": "Last 12 months",
        "sit_this_year": "This year",
        "sit_time_zone": "Dates and weeks in Swedish time (Europe/Stockholm).",
        "sit_suppression": (
            'Counts below 5 are shown as "<5". Counts that could otherwise be worked out from totals '
            'are shown as "..".'
        ),
        "sit_total": "Conversations in total",
        "sit_weekly": "Conversations per week",
        "sit_week": "Week",
        "sit_category": "Category",
        "sit_count": "Count",
        "sit_sum": "Total",
        "sit_show_table": "Show as a table",
        "sit_hidden_legend": "Hatched bar: the count is not published (<5 or ..), drawn the same height whatever it is.",
        "sit_download_csv": "Download (CSV)",
        "sit_printable": "Printable report",
        "sit_error_unknown_area": "Your account is not linked to a municipality or a Kunskapshus.",
        "sit_error_bad_period": "Invalid period: give dates as YYYY-MM-DD, the end on or after the start.",
    },
}
for _lang, _words in SITUATION_STRINGS.items():
    STRINGS[_lang].update(_words)


# ---------------------------------------------------------------------- directory of recipients
# The admins' directory page (handoff.directory_admin) and crime information passed by phone.
DIRECTORY_STRINGS: dict[str, dict[str, str]] = {
    "sv": {
        "directory_admin": "Mottagarkatalog",
        "dir_intro": (
            "Mottagare som samtalsstödet föreslår och lämnar över till. Ändringar sparas ovanpå den "
            "levererade katalogen, gäller direkt i alla gatewayprocesser och loggas."
        ),
        "dir_search": "Sök (namn, id eller kommun)",
        "dir_all": "Alla",
        "dir_state": "Status",
        "dir_section": "Slag",
        "dir_section_recipient": "Nationella, regionala och civilsamhället",
        "dir_section_kunskapshus": "Kunskapshus",
        "dir_section_social_services": "Socialtjänst i kommunerna",
        "dir_kind": "Typ",
        "dir_kind_state": "Statlig",
        "dir_kind_regional": "Regional",
        "dir_kind_municipal": "Kommunal",
        "dir_kind_civil_society": "Civilsamhälle",
        "dir_tg_any": "Alla",
        "dir_count": "mottagare",
        "dir_name": "Namn",
        "dir_name_sv": "Namn på svenska",
        "dir_name_en": "Namn på engelska",
        "dir_id": "Id (små bokstäver, siffror och -)",
        "dir_topics": "Ämnen",
        "dir_target_groups": "Målgrupper",
        "dir_languages": "Språk",
        "dir_languages_hint": "Språkkoder med komma emellan, t.ex. sv, en, ar",
        "dir_opening_hours": "Öppettider",
        "dir_opening_hours_hint": "'24/7' eller dagar och tider, t.ex. 'mon-fri 08-16; sat 10-14' (svensk tid)",
        "dir_phone": "Telefon",
        "dir_emergency_phone": "Telefon vid akut läge",
        "dir_website": "Webbplats",
        "dir_methods": "Så tar mottagaren emot överlämningar",
        "dir_portal": "Kommunportalen",
        "dir_portal_unavailable": "Bara socialtjänst och Kunskapshus har kommunportal.",
        "dir_email": "E-post (avisering)",
        "dir_webhook": "Signerad webhook (https-adress)",
        "dir_webhook_hint": "Kräver en delad hemlighet i konfigurationen (handoff.webhook_secrets).",
        "dir_no_secret": "Ingen delad hemlighet är konfigurerad för den här mottagaren.",
        "dir_methods_from_config": "Sätten styrs av driftkonfigurationen (handoff.recipient_methods) och kan inte ändras här.",
        "dir_no_methods": "Tar inte emot överlämningar härifrån",
        "dir_active": "Aktiv",
        "dir_inactive": "Inaktiv",
        "dir_edited": "ändrad",
        "dir_added": "tillagd",
        "dir_required": "Tar emot brottsuppgifter och kan inte inaktiveras.",
        "dir_new": "Ny mottagare",
        "dir_edit": "Ändra",
        "dir_save": "Spara",
        "dir_cancel": "Stäng",
        "dir_deactivate": "Inaktivera",
        "dir_activate": "Aktivera",
        "dir_reset": "Återställ till levererad data",
        "dir_confirm_deactivate": "Inaktivera mottagaren? Den föreslås då inte längre.",
        "dir_confirm_reset": "Ta bort alla ändringar av mottagaren?",
        "dir_area": "Område som Kunskapshuset betjänar",
        "dir_area_hint": "Markera hela län eller enskilda kommuner. En kommun kan bara höra till ett Kunskapshus.",
        "dir_whole_county": "Hela länet",
        "dir_served_by_other": "hör till",
        "dir_save_area": "Spara området",
        "dir_area_count": "kommuner",
        "dir_municipality": "Kommun",
        "dir_history": "Ändringar",
        "dir_history_empty": "Inga ändringar ännu.",
        "dir_changed": "Ändrat",
        "dir_before": "Före",
        "dir_after": "Efter",
        "dir_saved_ok": "Sparat. Gäller nu i alla processer.",
        "dir_unchanged": "Inget ändrades.",
        "dir_deactivated_ok": "Inaktiverad.",
        "dir_activated_ok": "Aktiverad.",
        "dir_reset_ok": "Återställd till levererad data.",
        "dir_fix_fields": "Rätta de markerade fälten.",
        "dir_act_recipient_created": "Lade till",
        "dir_act_recipient_updated": "Ändrade",
        "dir_act_recipient_deactivated": "Inaktiverade",
        "dir_act_recipient_activated": "Aktiverade",
        "dir_act_area_updated": "Ändrade området för",
        "dir_act_recipient_reset": "Återställde",
        "dir_err_required": "Fyll i.",
        "dir_err_too_long": "För långt.",
        "dir_err_invalid": "Ogiltigt värde.",
        "dir_err_unknown_kind": "Välj en typ.",
        "dir_err_kind_fixed": "Socialtjänst och Kunskapshus är alltid kommunala.",
        "dir_err_unknown_topic": "Okänt ämne.",
        "dir_err_unknown_target_group": "Okänd målgrupp.",
        "dir_err_invalid_language": "Skriv språkkoder som 'sv' eller 'en'.",
        "dir_err_invalid_opening_hours": "Kan inte läsa öppettiderna: skriv '24/7' eller t.ex. 'mon-fri 08-16'.",
        "dir_err_invalid_phone": "Skriv ett telefonnummer (siffror, mellanslag, + och -).",
        "dir_err_invalid_url": "Skriv en fullständig adress som börjar med https://.",
        "dir_err_invalid_email": "Det är inte en e-postadress.",
        "dir_err_webhook_not_https": "En webhook måste använda https.",
        "dir_err_webhook_needs_secret": "Ingen delad hemlighet för mottagaren i konfigurationen (handoff.webhook_secrets).",
        "dir_err_portal_not_available": "Bara socialtjänst och Kunskapshus har kommunportal.",
        "dir_err_methods_set_by_configuration": "Sätten styrs av driftkonfigurationen.",
        "dir_err_required_recipient": "Mottagaren tar emot brottsuppgifter och kan inte inaktiveras.",
        "dir_err_invalid_id": "Id: 2–63 tecken, små bokstäver a–z, siffror och -.",
        "dir_err_id_reserved": "Id som börjar med socialtjanst- eller kunskapshus- är reserverade.",
        "dir_err_id_taken": "Det id:t finns redan.",
        "dir_err_unknown_county": "Okänt län.",
        "dir_err_unknown_municipality": "Okänd kommun.",
        "dir_err_area_empty": "Området måste omfatta minst en kommun.",
        "dir_err_area_overlap": "Kommuner som redan hör till ett annat Kunskapshus",
        "dir_err_invalid_entry": "Ändringen passar inte med katalogen",
        "error_invalid_input": "Rätta de markerade fälten.",
        "error_edited_meanwhile": "Någon annan ändrade mottagaren under tiden. Öppna den igen.",
        "error_added_recipient": "En tillagd mottagare har ingen levererad data; inaktivera den i stället.",
        "error_not_edited": "Mottagaren är inte ändrad.",
        "error_id_taken": "Det id:t finns redan.",
        "ho_ds_awaiting_manual": "Ska lämnas per telefon",
        "ho_manual_title": "Brottsuppgifter att lämna per telefon",
        "ho_none_manual": "Inget att lämna per telefon.",
        "ho_manual_no_method": (
            "Mottagaren tar inte emot något elektroniskt härifrån. Ring, läs upp uppgifterna och "
            "registrera samtalet."
        ),
        "ho_manual_failed": "Det gick inte att skicka elektroniskt. Ring, läs upp uppgifterna och registrera samtalet.",
        "ho_call": "Ring",
        "ho_show_readout": "Visa texten att läsa upp",
        "ho_readout": "Att läsa upp",
        "ho_phoned_number": "Numret du ringde",
        "ho_police_reference": "Polisens diarie- eller ärendenummer",
        "ho_called_at": "När samtalet gjordes (tomt: nu)",
        "ho_phone_note": "Anteckning (valfritt)",
        "ho_record_phone": "Registrera att uppgifterna lämnats per telefon",
        "ho_phoned_ok": "Registrerat – uppgifterna är lämnade.",
        "ho_phoned": "Lämnad per telefon",
        "error_number_required": "Skriv numret du ringde.",
        "error_invalid_number": "Skriv ett telefonnummer (siffror, mellanslag, + och -).",
        "error_reference_too_long": "Referensen är för lång.",
        "error_note_too_long": "Anteckningen är för lång.",
        "error_invalid_called_at": "Ogiltig tidpunkt.",
        "error_called_at_in_future": "Tidpunkten ligger i framtiden.",
        "error_called_at_before_approval": "Tidpunkten ligger före godkännandet.",
        "error_not_awaiting_phone": "Brottsuppgiften väntar inte på att lämnas per telefon.",
    },
    "en": {
        "directory_admin": "Directory of recipients",
        "dir_intro": (
            "The recipients the console proposes and hands over to. Edits are kept on top of the shipped "
            "directory, apply at once in every gateway process, and are audited."
        ),
        "dir_search": "Search (name, id or municipality)",
        "dir_all": "All",
        "dir_state": "State",
        "dir_section": "Group",
        "dir_section_recipient": "National, regional and civil society",
        "dir_section_kunskapshus": "Kunskapshus (knowledge centres)",
        "dir_section_social_services": "Municipal social services",
        "dir_kind": "Kind",
        "dir_kind_state": "State",
        "dir_kind_regional": "Regional",
        "dir_kind_municipal": "Municipal",
        "dir_kind_civil_society": "Civil society",
        "dir_tg_any": "Anyone",
        "dir_count": "recipients",
        "dir_name": "Name",
        "dir_name_sv": "Name in Swedish",
        "dir_name_en": "Name in English",
        "dir_id": "Id (lower-case letters, digits and -)",
        "dir_topics": "Topics",
        "dir_target_groups": "Target groups",
        "dir_languages": "Languages",
        "dir_languages_hint": "Language codes separated by commas, e.g. sv, en, ar",
        "dir_opening_hours": "Opening hours",
        "dir_opening_hours_hint": "'24/7' or days and hours, e.g. 'mon-fri 08-16; sat 10-14' (Swedish time)",
        "dir_phone": "Phone",
        "dir_emergency_phone": "Phone in an emergency",
        "dir_website": "Web site",
        "dir_methods": "How the recipient receives handoffs",
        "dir_portal": "Municipality portal",
        "dir_portal_unavailable": "Only social services and Kunskapshus have the municipality portal.",
        "dir_email": "E-mail (notification)",
        "dir_webhook": "Signed webhook (https address)",
        "dir_webhook_hint": "Needs a shared secret in the configuration (handoff.webhook_secrets).",
        "dir_no_secret": "No shared secret is configured for this recipient.",
        "dir_methods_from_config": "The methods are set by the deployment's configuration (handoff.recipient_methods) and cannot be changed here.",
        "dir_no_methods": "Takes no handoffs from here",
        "dir_active": "Active",
        "dir_inactive": "Inactive",
        "dir_edited": "edited",
        "dir_added": "added",
        "dir_required": "Receives crime information and cannot be deactivated.",
        "dir_new": "New recipient",
        "dir_edit": "Edit",
        "dir_save": "Save",
        "dir_cancel": "Close",
        "dir_deactivate": "Deactivate",
        "dir_activate": "Activate",
        "dir_reset": "Return to the shipped data",
        "dir_confirm_deactivate": "Deactivate the recipient? It will no longer be proposed.",
        "dir_confirm_reset": "Remove every edit of this recipient?",
        "dir_area": "Area the Kunskapshus serves",
        "dir_area_hint": "Tick whole counties or single municipalities. A municipality belongs to one Kunskapshus at most.",
        "dir_whole_county": "The whole county",
        "dir_served_by_other": "belongs to",
        "dir_save_area": "Save the area",
        "dir_area_count": "municipalities",
        "dir_municipality": "Municipality",
        "dir_history": "Changes",
        "dir_history_empty": "No changes yet.",
        "dir_changed": "Changed",
        "dir_before": "Before",
        "dir_after": "After",
        "dir_saved_ok": "Saved. It applies now in every process.",
        "dir_unchanged": "Nothing changed.",
        "dir_deactivated_ok": "Deactivated.",
        "dir_activated_ok": "Activated.",
        "dir_reset_ok": "Returned to the shipped data.",
        "dir_fix_fields": "Correct the marked fields.",
        "dir_act_recipient_created": "Added",
        "dir_act_recipient_updated": "Edited",
        "dir_act_recipient_deactivated": "Deactivated",
        "dir_act_recipient_activated": "Activated",
        "dir_act_area_updated": "Changed the area of",
        "dir_act_recipient_reset": "Returned to shipped",
        "dir_err_required": "Required.",
        "dir_err_too_long": "Too long.",
        "dir_err_invalid": "Invalid value.",
        "dir_err_unknown_kind": "Choose a kind.",
        "dir_err_kind_fixed": "Social services and Kunskapshus are always municipal.",
        "dir_err_unknown_topic": "Unknown topic.",
        "dir_err_unknown_target_group": "Unknown target group.",
        "dir_err_invalid_language": "Write language codes like 'sv' or 'en'.",
        "dir_err_invalid_opening_hours": "Cannot read the opening hours: write '24/7' or e.g. 'mon-fri 08-16'.",
        "dir_err_invalid_phone": "Write a phone number (digits, spaces, + and -).",
        "dir_err_invalid_url": "Write a full address beginning with https://.",
        "dir_err_invalid_email": "That is not an e-mail address.",
        "dir_err_webhook_not_https": "A webhook must use https.",
        "dir_err_webhook_needs_secret": "No shared secret for this recipient in the configuration (handoff.webhook_secrets).",
        "dir_err_portal_not_available": "Only social services and Kunskapshus have the municipality portal.",
        "dir_err_methods_set_by_configuration": "The methods are set by the deployment's configuration.",
        "dir_err_required_recipient": "The recipient receives crime information and cannot be deactivated.",
        "dir_err_invalid_id": "Id: 2–63 characters, lower-case letters a–z, digits and -.",
        "dir_err_id_reserved": "Ids beginning with socialtjanst- or kunskapshus- are reserved.",
        "dir_err_id_taken": "That id exists already.",
        "dir_err_unknown_county": "Unknown county.",
        "dir_err_unknown_municipality": "Unknown municipality.",
        "dir_err_area_empty": "The area must include at least one municipality.",
        "dir_err_area_overlap": "Municipalities that already belong to another Kunskapshus",
        "dir_err_invalid_entry": "The edit does not fit the directory",
        "error_invalid_input": "Correct the marked fields.",
        "error_edited_meanwhile": "Someone else edited the recipient meanwhile. Open it again.",
        "error_added_recipient": "An added recipient has no shipped data; deactivate it instead.",
        "error_not_edited": "The recipient is not edited.",
        "error_id_taken": "That id exists already.",
        "ho_ds_awaiting_manual": "To be passed by phone",
        "ho_manual_title": "Crime information to pass by phone",
        "ho_none_manual": "Nothing to pass by phone.",
        "ho_manual_no_method": (
            "The recipient takes nothing electronic from here. Call, read the information out and "
            "record the call."
        ),
        "ho_manual_failed": "It could not be sent electronically. Call, read the information out and record the call.",
        "ho_call": "Call",
        "ho_show_readout": "Show the text to read out",
        "ho_readout": "To read out",
        "ho_phoned_number": "The number you called",
        "ho_police_reference": "The police's reference number",
        "ho_called_at": "When the call was made (empty: now)",
        "ho_phone_note": "Note (optional)",
        "ho_record_phone": "Record that it was passed by phone",
        "ho_phoned_ok": "Recorded – the information has been passed.",
        "ho_phoned": "Passed by phone",
        "error_number_required": "Write the number you called.",
        "error_invalid_number": "Write a phone number (digits, spaces, + and -).",
        "error_reference_too_long": "The reference is too long.",
        "error_note_too_long": "The note is too long.",
        "error_invalid_called_at": "Invalid time.",
        "error_called_at_in_future": "The time is in the future.",
        "error_called_at_before_approval": "The time is before the approval.",
        "error_not_awaiting_phone": "The crime information is not waiting to be passed by phone.",
    },
}
for _lang, _words in DIRECTORY_STRINGS.items():
    STRINGS[_lang].update(_words)


# ---------------------------------------------------------------------- local recipients' areas
# The area of a recipient other than a Kunskapshus (a municipal or regional unit, a local
# organisation), edited with the entry on the directory page.
AREA_STRINGS: dict[str, dict[str, str]] = {
    "sv": {
        "dir_area_recipient": "Område där mottagaren arbetar",
        "dir_area_recipient_hint": (
            "Markera län eller kommuner om mottagaren bara arbetar där: den föreslås då bland de lokala "
            "mottagarna, och bara för personer där. Inget markerat: hela landet. En kommunal mottagare "
            "måste ha ett område. Området sparas med mottagaren."
        ),
        "dir_err_area_required": "En kommunal mottagare måste ha ett område: markera minst ett län eller en kommun.",
        "dir_err_area_not_for_required": (
            "Mottagaren tar emot brottsuppgifter från hela landet och kan inte begränsas till ett område."
        ),
    },
    "en": {
        "dir_area_recipient": "Area the recipient works in",
        "dir_area_recipient_hint": (
            "Tick counties or municipalities if the recipient works only there: it is then proposed among "
            "the local recipients, and only for people there. Nothing ticked: the whole country. A "
            "municipal recipient needs an area. The area is saved with the recipient."
        ),
        "dir_err_area_required": "A municipal recipient needs an area: tick at least one county or municipality.",
        "dir_err_area_not_for_required": (
            "The recipient receives crime information from the whole country and cannot be limited to an area."
        ),
    },
}
for _lang, _words in AREA_STRINGS.items():
    STRINGS[_lang].update(_words)


# ---------------------------------------------------------------------- the alert of a held conversation
ALERT_STRINGS: dict[str, dict[str, str]] = {
    "sv": {
        "alert_critical_mine": "Ditt samtal {conv} har blivit kritiskt – läs det nu!",
        "alert_critical_assigned": "Samtal {conv} hos {who} har blivit kritiskt.",
        "alert_show": "Visa samtalet",
    },
    "en": {
        "alert_critical_mine": "Your conversation {conv} has turned critical – read it now!",
        "alert_critical_assigned": "Conversation {conv} held by {who} has turned critical.",
        "alert_show": "Show the conversation",
    },
}
for _lang, _words in ALERT_STRINGS.items():
    STRINGS[_lang].update(_words)


# ---------------------------------------------------------------------- why a conversation is where it is
# The language and the risk next to the triage; counsellors' corrections of the triage and the
# admin's handling of them (in their own module, merged here).
for _lang, _words in TRIAGE_STRINGS.items():
    STRINGS[_lang].update(_words)

# The person panel, search, the audit page, care for counsellors and the close dialog.
for _lang, _words in HISTORY_STRINGS.items():
    STRINGS[_lang].update(_words)


# ---------------------------------------------------------------------- what the person is told
# System messages the console sends to the person of a conversation, in the person's language
# (Swedish unless they write in English, as the channels' own texts).
PERSON_STRINGS: dict[str, dict[str, str]] = {
    "sv": {
        "transferred": (
            "En annan samtalsstödjare tar över samtalet nu och läser det du har skrivit. "
            "Du behöver inte berätta allt igen."
        ),
    },
    "en": {
        "transferred": (
            "Another counsellor is taking over the conversation now and is reading what you wrote. "
            "You do not need to tell everything again."
        ),
    },
}


def person_text(key: str, person_language: str | None) -> str:
    """A system message to the person: English for a person writing in English, else Swedish."""
    return PERSON_STRINGS["en" if (person_language or "").startswith("en") else "sv"][key]


# ---------------------------------------------------------------------- the shift (handoff.shift)
# Status, "Nästa samtal", notifications and reminders of waiting conversations.
for _lang, _words in SHIFT_STRINGS.items():
    STRINGS[_lang].update(_words)
# ---------------------------------------------------------------------- phone calls (handoff.phone)
for _lang, _words in PHONE_STRINGS.items():
    for _key in _words:
        STRINGS[_lang].setdefault(_key, _words[_key])
# ---------------------------------------------------------------------- staff accounts and the second factor
for _lang, _words in STAFF_STRINGS.items():
    for _key in _words:
        # A key the console has already keeps its words: the staff pages only add their own.
        STRINGS[_lang].setdefault(_key, _words[_key])


def language_name(code: str | None, lang: str) -> str:
    """The readable name of a triage language code (``und`` or none: unknown; another code as it is)."""
    names = LANGUAGE_NAMES[pick_language(lang)]
    if not code:
        return names["und"]
    return names.get(code, code)
