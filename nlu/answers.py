"""One-word answers ("ja", "nej", "ok") in the languages people write in.

A bare answer says nothing about risk or about what the conversation is for: it answers a
question (a consent question, a counsellor's "are you safe now?").  Triage leaves such a message
alone: it is stored, but it never raises a priority, never opens a queued conversation and gets
no automatic answer (see ``Pipeline.ingress``).
"""

from __future__ import annotations

import re

from gateway.envelope import Priority
from nlu.result import TriageResult

YES_WORDS = frozenset(
    """ja jo japp jepp jajamän yes yep yeah yup sure evet tamam haa haan ha'a da ano
    naam na'am نعم أجل اي ايوه آره بله بلی اره ሓራ እወ да ага угу erê ere belê""".split()
)
NO_WORDS = frozenset(
    "nej nä nää nää nix no nope nah hayır hayir maya ne nee na لا كلا نه نخیر ናይ ኣይፋል нет неа".split()
)
NEUTRAL_WORDS = frozenset("ok okej okay okey oki k kk mm mhm aha jaha jaså hmm".split())
_STRIP = re.compile(r"[\s.!,;:?\"'()\u061f\u060c]+")


def bare_word(text: str) -> str:
    return _STRIP.sub(" ", text.casefold()).strip()


def parse_yes_no(text: str) -> bool | None:
    """True for a one-word yes, False for a one-word no, None for anything else."""
    word = bare_word(text)
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    return None


def is_bare_answer(text: str) -> bool:
    """A one-word yes, no or ok: an answer to a question, not something to triage."""
    word = bare_word(text)
    return word in YES_WORDS or word in NO_WORDS or word in NEUTRAL_WORDS


def untriaged(text: str, reason: str, language: str | None = None) -> TriageResult:
    """The result recorded for a message triage leaves alone (``reason``: answer, automatic)."""
    return TriageResult(
        text=text,
        intent="out_of_scope",
        confidence=0.0,
        language=language if language in ("sv", "en") else "sv",
        priority=Priority.LOW,
        safe_response="",
        matched_rules=(f"untriaged:{reason}",),
        backend="none",
        extra={"untriaged": reason},
    )
