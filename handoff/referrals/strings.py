"""The referrals' words, from the ``person`` catalogue (:mod:`gateway.catalogues`): the labels of
topics, contact types and urgencies (``referral_label.topic.*``, ``referral_label.contact_type.*``,
``referral_label.urgency.*``), the consent question (``consent.*``) and the thanks for the person's answer
to it (``consent.thanks_true`` / ``consent.thanks_false``)."""

from __future__ import annotations

from typing import Literal

from gateway import catalogues

LabelKind = Literal["topic", "contact_type", "urgency"]


def label(kind: LabelKind, key: str, language: str) -> str:
    """The readable label of a topic, contact type or urgency (an unknown key reads as itself)."""
    lang = catalogues.pick("person", language)
    return catalogues.strings("person", lang).get(f"referral_label.{kind}.{key}", key)


def consent_words(language: str) -> dict[str, str]:
    """The consent question's lines, by id without the ``consent.`` prefix."""
    return catalogues.section("person", catalogues.pick("person", language), "consent.")


def thanks(consent: bool, language: str) -> str:
    """The answer to the person's own answer to the consent question."""
    msgid = "consent.thanks_true" if consent else "consent.thanks_false"
    return catalogues.text("person", catalogues.pick("person", language), msgid)


def reason(key: str, **values: str | tuple[str, str]) -> tuple[str, str]:
    """Why a recipient is proposed (``referral_reason.<key>`` in the console catalogue) in Swedish
    and in English: {municipality}, {recipient}, {topic} and {hours} are filled in, a value given as
    a (sv, en) pair in each language's text in its own language."""

    def fill(lang: str, i: int) -> str:
        return catalogues.text(
            "console",
            lang,
            f"referral_reason.{key}",
            **{k: (v[i] if isinstance(v, tuple) else v) for k, v in values.items()},
        )

    return fill("sv", 0), fill("en", 1)
