"""The words of the conversation's context pane (issue 17, item 1): its five tabs and what the
Documentation tab says, Swedish first and English second (merged into the console's STRINGS)."""

from __future__ import annotations

CONTEXT_STRINGS: dict[str, dict[str, str]] = {
    "sv": {
        "ctx_label": "Om samtalet",
        "ctx_triage": "Bedömning",
        "ctx_person": "Person",
        "ctx_referral": "Hänvisning",
        "ctx_crime": "Brottsuppgift",
        "ctx_documentation": "Dokumentation",
        "ctx_doc_text": (
            "Samtalet dokumenteras när det är avslutat: formuläret öppnas då under samtalen, "
            "och samtal som väntar på dokumentation står i listan där."
        ),
        "ctx_doc_go": "Till dokumentationen",
        "transcript_label": "Samtalets meddelanden",
        "skip_to_main": "Hoppa till innehållet",
        "s_documented": "Dokumenterat",
        "rk_personnummer": "personnummer",
        "rk_phone": "telefonnummer",
        "rk_email": "e-postadress",
        "rk_address": "adress",
        "rk_username": "användarnamn",
        "rk_name": "namn",
        "lang_self_sv": "Svenska",
        "lang_self_en": "English",
    },
    "en": {
        "ctx_label": "About the conversation",
        "ctx_triage": "Triage",
        "ctx_person": "Person",
        "ctx_referral": "Referral",
        "ctx_crime": "Crime information",
        "ctx_documentation": "Documentation",
        "ctx_doc_text": (
            "A conversation is documented once it is closed: the form then opens below the "
            "conversations, and conversations waiting for documentation are listed there."
        ),
        "ctx_doc_go": "Go to the documentation",
        "transcript_label": "The conversation's messages",
        "skip_to_main": "Skip to the content",
        "s_documented": "Documented",
        "rk_personnummer": "personal identity number",
        "rk_phone": "phone number",
        "rk_email": "e-mail address",
        "rk_address": "address",
        "rk_username": "user name",
        "rk_name": "name",
        "lang_self_sv": "Svenska",
        "lang_self_en": "English",
    },
}
