"""What the Telegram adapter answers by itself, in both languages, and its commands (data tables)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

TEXTS: Final[Mapping[str, Mapping[str, str]]] = {
    "sv": {
        "welcome": (
            "Hej och välkommen! Här kan du skriva till en stödlinje för dig som är orolig för "
            "våldsbejakande extremism, för din egen skull eller för någon i din närhet.\n\n"
            "Du är anonym: vi sparar inte ditt namn, ditt användarnamn eller ditt telefonnummer, och "
            "du behöver inte berätta vem du är. Skriv ditt meddelande här så får du ett svar direkt, "
            "och en samtalsstödjare tar över samtalet så snart någon är ledig.\n\n"
            "Skriv /stopp när du vill avsluta samtalet och /hjalp för hjälp. "
            "Är någon i akut fara, ring 112."
        ),
        "help": (
            "Så här fungerar det: skriv med vanlig text det du vill berätta eller fråga, så svarar en "
            "samtalsstödjare här i chatten. Vi tar bara emot text; bilder, ljud och filer läses inte.\n\n"
            "/stopp avslutar samtalet. Du kan skriva igen när du vill, då börjar ett nytt samtal.\n"
            "/start visar välkomsttexten igen.\n\n"
            "Är någon i akut fara, ring 112."
        ),
        "stopped": (
            "Samtalet är avslutat. Tack för att du hörde av dig. Du kan skriva igen när du vill, "
            "då börjar ett nytt samtal."
        ),
        "only_text": (
            "Vi kan tyvärr bara ta emot text. Bilder, röstmeddelanden, filer och klistermärken öppnas "
            "inte och sparas inte. Skriv gärna med ord det du vill berätta."
        ),
        "only_text_caption": (
            "Vi kan tyvärr bara ta emot text. Det du skickade öppnas inte och sparas inte, men texten "
            "du skrev till det har kommit fram."
        ),
        "not_accepted": (
            "Ditt meddelande kunde tyvärr inte tas emot. Försök gärna igen, med kortare text om det var "
            "ett långt meddelande."
        ),
        "assigned": "En samtalsstödjare har anslutit till samtalet och svarar dig här.",
        "closed": ("Samtalet har avslutats. Du kan skriva igen när du vill, då börjar ett nytt samtal."),
    },
    "en": {
        "welcome": (
            "Hello and welcome! This is a support line for anyone worried about violent extremism, "
            "for their own sake or for someone close to them.\n\n"
            "You are anonymous: we do not keep your name, your username or your phone number, and you "
            "do not have to tell us who you are. Write your message here and you get an answer at once; "
            "a counsellor takes over the conversation as soon as one is free.\n\n"
            "Send /stop when you want to end the conversation and /help for help. "
            "If someone is in immediate danger, call 112."
        ),
        "help": (
            "How it works: write in plain text what you want to tell or ask, and a counsellor answers "
            "you here in the chat. We only handle text; pictures, audio and files are not opened.\n\n"
            "/stop ends the conversation. You can write again any time; a new conversation starts then.\n"
            "/start shows the welcome again.\n\n"
            "If someone is in immediate danger, call 112."
        ),
        "stopped": (
            "The conversation has ended. Thank you for getting in touch. You can write again any time; "
            "a new conversation starts then."
        ),
        "only_text": (
            "Sorry, we can only handle text. Pictures, voice messages, files and stickers are not opened "
            "and not kept. Please write in words what you want to tell us."
        ),
        "only_text_caption": (
            "Sorry, we can only handle text. What you sent is not opened and not kept, but the text you "
            "wrote with it has reached us."
        ),
        "not_accepted": (
            "Sorry, your message could not be received. Please try again, with a shorter text if it was "
            "a long message."
        ),
        "assigned": "A counsellor has joined the conversation and will answer you here.",
        "closed": "The conversation has been closed. You can write again any time; a new conversation starts then.",
    },
}

COMMANDS: Final[Mapping[str, str]] = {
    "start": "start",
    "stopp": "stop",
    "stop": "stop",
    "avsluta": "stop",
    "hjalp": "help",
    "hjälp": "help",
    "help": "help",
}
