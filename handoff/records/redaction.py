"""Redaction of free text (Swedish and English) before it is kept or passed on.

:func:`redact` replaces, in this order of precedence:

- URLs carrying a user name or password, social-media profile URLs and ``@handles`` -> ``[ANVÄNDARE]``
- e-mail addresses -> ``[E-POST]``
- Swedish personal identity and coordination numbers, validated with their check digit
  -> ``[PERSONNUMMER]``
- phone numbers (Swedish and international), and other long digit strings (a number that fails
  the personnummer check may still be a phone number) -> ``[TELEFON]``
- street addresses (Swedish "Storgatan 12 lgh 1101", English "221B Baker Street") -> ``[ADRESS]``
- names of people, as well as can be done offline: common first names and surnames from
  ``handoff/data/names.yml``, capitalised words after cues such as "heter", "min son", "named",
  "my brother", and every other occurrence of a name once found -> ``[NAMN]``

Redaction errs on the side of removing too much; it is a safeguard, not a guarantee, and a
counsellor still reads what is kept.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import NamedTuple

import yaml

DATA_DIR = Path(__file__).resolve().parents[1] / "data"

TOKENS: dict[str, str] = {
    "personnummer": "[PERSONNUMMER]",
    "phone": "[TELEFON]",
    "email": "[E-POST]",
    "address": "[ADRESS]",
    "username": "[ANVÄNDARE]",
    "name": "[NAMN]",
}
KINDS: tuple[str, ...] = tuple(TOKENS)


class Finding(NamedTuple):
    """What kind of thing was redacted, and where it was in the original text."""

    kind: str
    span: tuple[int, int]


@dataclass(frozen=True, slots=True)
class RedactionResult:
    text: str
    found: list[Finding]

    def kinds(self) -> set[str]:
        return {f.kind for f in self.found}

    @property
    def changed(self) -> bool:
        return bool(self.found)


# --------------------------------------------------------------------------------------------
# personnummer


def luhn_ok(digits: str) -> bool:
    """The Luhn check used by Swedish personal identity numbers (over the last ten digits)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def is_personnummer(text: str) -> bool:
    """Whether ``text`` is a valid personal identity or coordination number (any usual format)."""
    match = _PNR_RE.fullmatch(text.strip())
    return match is not None and _valid_pnr(match)


_PNR_RE = re.compile(r"(?<![\w+\-.,/])((?:18|19|20)?)(\d{2})(\d{2})(\d{2})[ ]?([-+]?)[ ]?(\d{3})(\d)(?![\w])")


def _valid_pnr(match: re.Match[str]) -> bool:
    century, yy, mm, dd, _sep, serial, check = match.groups()
    month, day = int(mm), int(dd)
    if day > 60:  # samordningsnummer: day + 60
        day -= 60
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return False
    if century:
        try:
            date(int(century + yy), month, day)
        except ValueError:
            return False
    return luhn_ok(yy + mm + dd + serial + check)


# --------------------------------------------------------------------------------------------
# patterns

_SOCIAL_HOSTS = (
    r"instagram\.com|facebook\.com|fb\.com|m\.facebook\.com|t\.me|telegram\.me|x\.com|twitter\.com|"
    r"tiktok\.com|youtube\.com|snapchat\.com|reddit\.com|github\.com|linkedin\.com|vk\.com|gab\.com|"
    r"truthsocial\.com|discord\.gg|discord\.com|threads\.net|bsky\.app|flashback\.org|kik\.me|wa\.me"
)
_CRED_URL_RE = re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s/@:]+(?::[^\s/@]*)?@[^\s<>\"']+")
_SOCIAL_URL_RE = re.compile(
    rf"(?i)(?<![\w.@])(?:https?://)?(?:www\.|m\.|mobile\.)?(?:{_SOCIAL_HOSTS})/[^\s<>\"']*[\w/@]"
)
_EMAIL_RE = re.compile(r"(?<![\w.+\-])[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,}(?![\w])")
_HANDLE_RE = re.compile(r"(?<![\w@/.:])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?(?![\w@])")

_INTL_PHONE_RE = re.compile(r"(?<![\w+\-.,/])(?:\+|00)\d{1,3}(?:[ \-.]?\(?\d{1,7}\)?){1,6}(?![\w])")
_SE_PHONE_RE = re.compile(
    r"(?<![\w+\-.,/:])0\d{1,3}(?:[ ]?[-/][ ]?|[ ])?\d{2,7}(?:[ \-]\d{2,4}){0,3}(?![\w])"
)
_LONG_DIGITS_RE = re.compile(r"(?<![\w+\-.,/])(?:\d{6}[-+]\d{4}|[1-9]\d{8,14})(?![\w])")
_DATE_LIKE_RE = re.compile(r"^(?:0?[1-9]|[12]\d|3[01])[-/](?:0?[1-9]|1[0-2])[-/](?:\d{2}|\d{4})$")

_SV_STREET = (
    r"gatan|gata|vägen|väg|gränd|gränden|stigen|stig|allén|allé|alle|backe|backen|torget|torg|"
    r"platsen|plats|leden|stråket|promenaden|esplanaden|kajen|stranden|strand|terrassen|slingan|"
    r"liden|gången|ringen|trappan"
)
_SV_PREFIX = r"(?:(?:Gamla|Nya|Norra|Södra|Östra|Västra|Stora|Lilla|Sankt|S:t|Övre|Nedre|Drottning|Kung)\s+)?"
_SV_ADDRESS_RE = re.compile(
    rf"(?<![\w]){_SV_PREFIX}(?=[A-ZÅÄÖ])[\wåäöéü\-]*?(?i:{_SV_STREET})\s+\d{{1,4}}(?:(?:[A-Za-z]|\s[A-Z])(?![\w]))?"
    r"(?:\s*,?\s*(?i:lgh|lägenhet|lght)\.?\s*(?:nr\.?\s*)?\d{1,4})?"
    r"(?:\s*,?\s*\d{3}\s?\d{2}(?:\s+[A-ZÅÄÖ][\wåäö]+)?)?"
)
_EN_STREET = (
    r"Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Place|Pl|Square|Sq|"
    r"Terrace|Way|Close|Crescent|Gardens|Row|Grove|Hill|Walk|Mews|Parade"
)
_EN_ADDRESS_RE = re.compile(
    r"(?<![\w])(?:(?:Flat|Apt\.?|Apartment|Unit)\s*\d{1,4}[A-Za-z]?,?\s+)?"
    rf"\d{{1,5}}[A-Za-z]?\s+(?:[A-Z][a-z]+\s+){{1,3}}(?:{_EN_STREET})\b"
)

_ANY_WORD_RE = re.compile(r"(?<![\w\[])[^\W\d_]+(?:-[^\W\d_]+)?(?![\w\]])")


def _capitalised(word: str) -> bool:
    """ "Kevin", "Ibrahimović", "Anna-Karin"; not "kevin", not "SÄPO"."""
    return word[:1].isupper() and any(ch.islower() for ch in word[1:])


def _word_at(text: str, pos: int, *, capital: bool = True) -> re.Match[str] | None:
    m = _ANY_WORD_RE.match(text, pos)
    if m is None or (capital and not _capitalised(m.group(0))):
        return None
    return m


_STRONG_CUES = (
    r"heter|hette|kallas|kallad|kallade|mitt namn är|hans namn är|hennes namn är|namnet är|namn:|"
    r"named|name is|name's|called|goes by"
)
_RELATIONS_SV = (
    r"son|dotter|bror|brorsa|syster|pojkvän|flickvän|sambo|man|fru|make|maka|pappa|mamma|kompis|vän|"
    r"väninna|kusin|brorson|brorsdotter|systerson|systerdotter|barnbarn|elev|kollega|granne|partner|"
    r"bonusson|bonusdotter|styvson|styvdotter|barn"
)
_RELATIONS_EN = (
    r"son|daughter|brother|sister|boyfriend|girlfriend|husband|wife|partner|friend|cousin|nephew|niece|"
    r"dad|father|mom|mum|mother|stepson|stepdaughter|student|pupil|colleague|neighbour|neighbor|child|"
    r"grandson|granddaughter"
)
_RELATION_CUES = (
    rf"(?:min|mitt|vår|vårt|hans|hennes|deras|dennes)\s+(?:{_RELATIONS_SV})|"
    rf"(?:eleven|kollegan|grannen|killen|tjejen|kompisen)|"
    rf"(?:my|our|his|her|their)\s+(?:{_RELATIONS_EN})"
)
_STRONG_CUE_RE = re.compile(rf"(?i)\b(?:{_STRONG_CUES})(?:\s*[:,]\s*|\s+)")
_RELATION_CUE_RE = re.compile(rf"(?i)\b(?:{_RELATION_CUES})\b\s*,?\s*")

_NOT_NAMES: frozenset[str] = frozenset(
    w.casefold()
    for w in (
        # Swedish function words that may be capitalised or follow a cue
        "jag du han hon hen vi ni de den det man inte ju också bara nog kanske typ alltså och eller men "
        "som att är var har hade ska skulle kan kunde vill ville blir blev en ett min mitt mina din ditt "
        "hans hennes deras vår vårt i på till från med om för av hos efter inför under så nu då här där "
        "något någon ingen inget alla allt mycket lite själv också sig sin sitt sina ännu redan "
        # English function words
        "i you he she they we it the a an and or but is was are were has had have will would can could "
        "not also just maybe so his her their my our your me him them this that these those there here "
        "to from with of for in on at by about after before who what when where why how something "
        "someone nobody anything everything himself herself really very now then"
    ).split()
)


@functools.lru_cache(maxsize=1)
def _name_lists() -> tuple[frozenset[str], frozenset[str]]:
    """(known first names and surnames, words that are never names on the list alone)."""
    data = yaml.safe_load((DATA_DIR / "names.yml").read_text(encoding="utf-8"))
    names = frozenset(n.casefold() for key in ("first_names", "surnames") for n in data.get(key) or [])
    places: set[str] = set()
    with (DATA_DIR / "municipalities.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            places.add(row["name"].casefold())
            places.update(part.casefold() for part in re.split(r"[\s\-]+", row["name"]))
    return names, frozenset(places)


# --------------------------------------------------------------------------------------------
# detection


class _Spans:
    def __init__(self) -> None:
        self.items: list[Finding] = []

    def free(self, start: int, end: int) -> bool:
        return all(end <= s or start >= e for _, (s, e) in self.items)

    def add(self, kind: str, start: int, end: int) -> bool:
        if start >= end or not self.free(start, end):
            return False
        self.items.append(Finding(kind, (start, end)))
        return True


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _phone_prefix(candidate: str, low: int, high: int) -> str | None:
    """The longest prefix of ``candidate`` (cut between digit groups) with low..high digits."""
    if _digits(candidate) <= high:
        return candidate if _digits(candidate) >= low else None
    cuts = [m.start() for m in re.finditer(r"[ \-.](?=\(?\d)", candidate)]
    for cut in reversed(cuts):
        head = candidate[:cut]
        if low <= _digits(head) <= high:
            return head
    return None


def _find_phones(text: str, spans: _Spans) -> None:
    for regex, low, high in ((_INTL_PHONE_RE, 8, 15), (_SE_PHONE_RE, 8, 10)):
        for m in regex.finditer(text):
            raw = m.group(0)
            if regex is _SE_PHONE_RE and _DATE_LIKE_RE.match(raw):
                continue
            kept = _phone_prefix(raw, low, high)
            if kept:
                spans.add("phone", m.start(), m.start() + len(kept.rstrip(" -.")))
    for m in _LONG_DIGITS_RE.finditer(text):
        spans.add("phone", m.start(), m.end())


def _find_names(text: str, spans: _Spans) -> None:
    known, places = _name_lists()
    found: list[tuple[int, int]] = []

    def is_candidate(word: str) -> bool:
        return word.casefold() not in _NOT_NAMES

    # 1. after cues: capitalised words (and, after a strong cue, the next word even in lower case)
    for cue_re, strong in ((_STRONG_CUE_RE, True), (_RELATION_CUE_RE, False)):
        for cue in cue_re.finditer(text):
            pos = cue.end()
            first = True
            while True:
                m = _word_at(text, pos)
                if m is None and first and strong:
                    lower = _word_at(text, pos, capital=False)
                    if lower and len(lower.group(0)) >= 2 and is_candidate(lower.group(0)):
                        m = lower
                if m is None or not is_candidate(m.group(0)):
                    break
                if not first and m.group(0).casefold() in places:
                    break
                found.append((m.start(), m.end()))
                first = False
                nxt = re.match(r"[ ]+", text[m.end() :])
                if nxt is None:
                    break
                pos = m.end() + len(nxt.group(0))

    # 2. known names from the list (not place names), with a following capitalised word
    for m in _ANY_WORD_RE.finditer(text):
        word = m.group(0)
        if not _capitalised(word):
            continue
        key = word.casefold()
        base = key[:-1] if key.endswith("s") and key[:-1] in known else key  # genitive "Annas"
        if base in known and key not in places and is_candidate(word):
            found.append((m.start(), m.end()))
            follow = _word_at(text, m.end() + 1) if text[m.end() : m.end() + 1] == " " else None
            if follow and is_candidate(follow.group(0)) and follow.group(0).casefold() not in places:
                found.append((follow.start(), follow.end()))

    # 3. every other occurrence of a name already found (in lower case too if it was found so)
    words = {text[s:e].casefold() for s, e in found}
    lowered = {text[s:e] for s, e in found if text[s:e].islower()}
    words |= {w[:-1] for w in words if w.endswith("s") and len(w) > 3}
    for m in _ANY_WORD_RE.finditer(text):
        key = m.group(0).casefold()
        base = key[:-1] if key.endswith("s") else key
        if (key in words or base in words) and (m.group(0)[:1].isupper() or key in lowered):
            found.append((m.start(), m.end()))

    for start, end in sorted(set(found)):
        spans.add("name", start, end)


def redact(text: str) -> RedactionResult:
    """Replace identifying details in ``text`` with tokens such as ``[NAMN]`` and ``[TELEFON]``."""
    spans = _Spans()
    for regex in (_CRED_URL_RE, _SOCIAL_URL_RE):
        for m in regex.finditer(text):
            spans.add("username", m.start(), m.end())
    for m in _EMAIL_RE.finditer(text):
        spans.add("email", m.start(), m.end())
    for m in _HANDLE_RE.finditer(text):
        spans.add("username", m.start(), m.end())
    for m in _PNR_RE.finditer(text):
        if _valid_pnr(m):
            spans.add("personnummer", m.start(), m.end())
    _find_phones(text, spans)
    for regex in (_SV_ADDRESS_RE, _EN_ADDRESS_RE):
        for m in regex.finditer(text):
            spans.add("address", m.start(), m.end())
    _find_names(text, spans)

    found = sorted(spans.items, key=lambda f: f.span)
    out: list[str] = []
    last = 0
    for kind, (start, end) in found:
        out.append(text[last:start])
        out.append(TOKENS[kind])
        last = end
    out.append(text[last:])
    return RedactionResult("".join(out), found)
