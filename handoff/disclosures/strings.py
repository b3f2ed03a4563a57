"""The disclosures' words: how certain the information is, and the legal grounds (Swedish, English)."""

from __future__ import annotations

from dataclasses import dataclass

CERTAINTIES: dict[str, tuple[str, str]] = {
    "confirmed": ("bekräftad", "confirmed"),
    "probable": ("trolig", "probable"),
    "possible": ("möjlig", "possible"),
    "unverified": ("obekräftad", "unverified"),
}


@dataclass(frozen=True, slots=True)
class LegalGround:
    id: str
    sv: str
    en: str
    requires_identity: bool


LEGAL_GROUNDS: dict[str, LegalGround] = {
    g.id: g
    for g in (
        LegalGround(
            "danger_to_life",
            "Akut fara för någons liv eller hälsa: uppgifterna, och personens identitet, behövs för att avvärja faran.",
            "Imminent danger to someone's life or health: the information, and the person's identity, "
            "are needed to avert the danger.",
            requires_identity=True,
        ),
        LegalGround(
            "avert_serious_crime",
            "Förestående eller pågående allvarligt brott som kan förhindras (jfr 23 kap. 6 § brottsbalken).",
            "An imminent or ongoing serious crime that can be prevented (cf. ch. 23 s. 6 of the Penal Code).",
            requires_identity=False,
        ),
        LegalGround(
            "suspected_serious_crime",
            "Misstanke om begånget allvarligt brott (jfr 10 kap. 23 § offentlighets- och sekretesslagen).",
            "Suspicion of a serious crime that was committed (cf. ch. 10 s. 23 of the Public Access to "
            "Information and Secrecy Act).",
            requires_identity=False,
        ),
        LegalGround(
            "national_security",
            "Brott som rör terrorism eller rikets säkerhet.",
            "A crime concerning terrorism or national security.",
            requires_identity=False,
        ),
    )
}
"""The grounds of the guidelines (wording to be confirmed by the guideline owners)."""
