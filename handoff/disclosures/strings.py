"""The disclosures' words: how certain the information is, and the legal grounds (Swedish, English),
from the ``console`` catalogue (ids ``disclosure.certainty.*``, ``disclosure.ground.*``)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway import catalogues


def _both(msgid: str) -> tuple[str, str]:
    return catalogues.text("console", "sv", msgid), catalogues.text("console", "en", msgid)


CERTAINTIES: dict[str, tuple[str, str]] = {
    key: _both(f"disclosure.certainty.{key}") for key in ("confirmed", "probable", "possible", "unverified")
}
"""(Swedish, English) of each certainty: a disclosure's package carries both."""
PHONE_SOURCE_TEXT = " / ".join(_both("disclosure.phone_source"))
"""The source of crime information a counsellor took in a phone call (the package's ``sources``)."""


@dataclass(frozen=True, slots=True)
class LegalGround:
    id: str
    sv: str
    en: str
    requires_identity: bool


_REQUIRES_IDENTITY = {
    "danger_to_life": True,
    "avert_serious_crime": False,
    "suspected_serious_crime": False,
    "national_security": False,
}
LEGAL_GROUNDS: dict[str, LegalGround] = {
    gid: LegalGround(gid, *_both(f"disclosure.ground.{gid}"), requires_identity=needs)
    for gid, needs in _REQUIRES_IDENTITY.items()
}
"""The grounds of the guidelines (wording to be confirmed by the guideline owners)."""
