"""What the XMPP adapter answers by itself, in both languages (a data table)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "sv": {
        "empty": "Ditt meddelande var tomt. Skriv gärna med text vad du vill berätta eller fråga.",
        "too_long": (
            "Ditt meddelande är för långt (högst {max_chars} tecken) och har inte tagits emot. "
            "Dela gärna upp det i flera kortare meddelanden."
        ),
        "only_text": (
            "Vi kan bara ta emot text här. Bilder och filer sparas inte – "
            "skriv gärna med ord vad du vill berätta."
        ),
        "not_received": (
            "Ditt senaste meddelande kunde inte tas emot just nu. Skicka det gärna igen om en liten stund."
        ),
        "not_accepted": (
            "Ditt meddelande kunde tyvärr inte tas emot. Försök gärna igen, med kortare text om det var "
            "ett långt meddelande."
        ),
        "assigned": "En samtalsstödjare har anslutit till samtalet och läser det du har skrivit.",
        "closed": (
            "Samtalet är avslutat. Du är välkommen att skriva till oss igen när du vill – "
            "då börjar ett nytt samtal."
        ),
        "queue": "Du är nummer {position} i kön. En samtalsstödjare svarar så snart som möjligt.",
    },
    "en": {
        "empty": "Your message was empty. Please write what you would like to tell or ask us.",
        "too_long": (
            "Your message is too long (at most {max_chars} characters) and was not received. "
            "Please split it into several shorter messages."
        ),
        "only_text": (
            "We can only receive text here. Pictures and files are not kept – "
            "please write what you would like to tell us."
        ),
        "not_received": "Your last message could not be received just now. Please send it again in a moment.",
        "not_accepted": (
            "Sorry, your message could not be received. Please try again, with a shorter text if it was "
            "a long message."
        ),
        "assigned": "A counsellor has joined the conversation and is reading what you wrote.",
        "closed": (
            "The conversation is closed. You are welcome to write to us again at any time – "
            "that starts a new conversation."
        ),
        "queue": "You are number {position} in the queue. A counsellor will answer as soon as possible.",
    },
}
