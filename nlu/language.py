"""Offline language detection for Swedish and English.

Scores a message with function words of each language (folded, so "ar", "ocksa" and "nagon" count
for Swedish even without å/ä/ö), letters only Swedish has (å, ä, ö) and a few character
sequences typical of each.  Short or unclear texts fall back to the hint, then to Swedish: most
people who write in are Swedish speakers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlu.result import LANGUAGES
from nlu.text import fold, tokens

DEFAULT_LANGUAGE = "sv"

_SV_WORDS = frozenset(
    """
    och att det som en ett ar är jag du han hon vi ni de dom den inte pa på med for för av till om
    men har hade kan ska skall vill var vad hur varfor nar dar har hej tack mig dig sig oss er min
    mitt mina din ditt sin sitt hans hennes deras vår var vara nagon nagot nagra ingen inget mycket
    bara ocksa nu sa så eller efter innan sedan sen utan under over mot fran hos vid nej ja jo
    kommer gar gor far blir blev sager sa tycker vet tror maste borde skulle kunde ville
    orkar liv leva langre mer mest alla allt aldrig alltid igen ganska riktigt asså assa typ ba e
    ngn ngt nån nåt nan nat mej dej hejda tja tjena hallå halla snalla nagonting dom hej
    min son dotter bror syster pojkvan kompis manniska prata ringa hjalp hjalpa orolig ska
    ikvall imorgon idag inatt helgen skolan eleven lararen gruppen rorelsen
    """.split()
)
_EN_WORDS = frozenset(
    """
    the and to of a in is it you that he she we they i me my your his her our their was were be
    been being are am not no yes do does did have has had will would can could should shall may
    might must this these those there here what when where why how who which with for from on at
    by about into out up down over after before just only also very really please thanks thank
    hello hi hey bye want wanna gonna going know think tell talk help anyone someone somebody
    im i'm dont don't cant can't wont won't its it's if so but or because anymore tomorrow tonight
    today friend son daughter brother sister school group movement people kill life live die
    """.split()
)
# Words spelled the same in both languages carry no evidence.
_SHARED = _SV_WORDS & _EN_WORDS
_SV_ONLY = _SV_WORDS - _SHARED
_EN_ONLY = _EN_WORDS - _SHARED

_SV_CHARS = re.compile(r"[åäö]")
_SV_SEQ = re.compile(
    r"(?:sj|tj|skj|stj|kv|ij\b|ck\b|nn\b|ll\b|\bhj|\blj|\bdj|gg\b|rn\b|ning\b|tion\b|het\b|lig\b|ar\b|er\b|en\b|na\b)"
)
_EN_SEQ = re.compile(r"(?:th|wh|ght|ing\b|ed\b|ly\b|\bw|ou|ea|ee|oo|y\b)")


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    language: str
    confidence: float
    scores: dict[str, float]


def detect_language(text: str, hint: str | None = None, *, folded: str | None = None) -> LanguageGuess:
    """Guess ``sv`` or ``en``.  ``hint`` (a supported code) wins whenever the evidence is weak."""
    hint = hint if hint in LANGUAGES else None
    default = hint or DEFAULT_LANGUAGE
    lowered = text.lower()
    folded = fold(text) if folded is None else folded
    toks = tokens(folded)
    sv = 3.0 * len(_SV_CHARS.findall(lowered))
    en = 0.0
    for tok in toks:
        if tok in _SV_ONLY:
            sv += 1.0
        elif tok in _EN_ONLY:
            en += 1.0
    # character sequences are weak evidence, scaled down
    sv += 0.15 * len(_SV_SEQ.findall(folded))
    en += 0.15 * len(_EN_SEQ.findall(folded))
    total = sv + en
    scores = {"sv": round(sv, 3), "en": round(en, 3)}
    if total < 1.0:
        return LanguageGuess(default, 0.5, scores)
    lead = max(sv, en) / total
    winner = "sv" if sv >= en else "en"
    # a hinted language keeps the message unless the other side clearly dominates
    if hint and winner != hint and (lead < 0.7 or total < 2.5):
        return LanguageGuess(hint, 1.0 - lead, scores)
    if lead < 0.55:
        return LanguageGuess(default, lead, scores)
    return LanguageGuess(winner, lead, scores)
