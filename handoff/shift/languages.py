"""Counsellors matched by language.

Each staff account lists the languages its holder speaks with a person
(``StaffUser.spoken_languages``; Bosnian, Croatian and Serbian count as one, as the triage detects
them as ``bs``).  A waiting conversation's language (the triage's, or the one the person picked) is

* offered first to the available members who speak it: "Nästa samtal" takes, within one priority,
  a conversation in a language other than Swedish and English the member speaks before the others,
  and leaves to a colleague on duty one only that colleague speaks (:func:`next_order`); the console's "new conversation" goes
  first to the consoles of members who speak it (:mod:`handoff.console.live`);
* never held back by its language: priority comes first, and a conversation in a language nobody
  on duty speaks keeps its place by priority and waiting time;
* and when nobody on duty speaks it (nor is it Swedish or English), the person is told once, in
  their language, what they can do (:func:`notice_listener`): write in Swedish or English, be called
  back with an interpreter, or wait for a counsellor who speaks it (``console.language_hours``: when
  one usually is on duty).  The conversation still waits at its priority.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import catalogues
from gateway.broker.base import Event
from gateway.errors import NotFound
from gateway.outgoing import OutgoingMessages
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import StaffUser
from nlu.result import SUPPORTED_LANGUAGES

from .models import StaffPresence
from .options import AVAILABLE
from .presence import ON_DUTY_ROLES

log = logging.getLogger(__name__)

PERSON_LANGUAGES: tuple[str, ...] = (*SUPPORTED_LANGUAGES, "hr", "sr")
"""The languages a staff member may list (those the triage detects, and Croatian and Serbian)."""
WORKING_LANGUAGES = ("sv", "en")
"""Every counsellor answers in these; a conversation in them never gets the notice."""
SAME_AS = {"hr": "bs", "sr": "bs"}
NOTICE_GROUP = "language-notice"
NOTICE_MARK = "language_notice"
"""``Conversation.meta`` key: the notice was sent (once per conversation)."""


def matched(language: str) -> str:
    """The language as conversations are matched: hr and sr as bs."""
    return SAME_AS.get(language, language)


def spoken(user: StaffUser) -> set[str]:
    return {matched(lang) for lang in (user.spoken_languages or [])}


def clean_languages(values: Iterable[str]) -> list[str]:
    """The languages as stored (known codes, in the order of :data:`PERSON_LANGUAGES`); raises
    ValueError naming an unknown code."""
    wanted = {str(v).strip().lower() for v in values if str(v).strip()}
    unknown = sorted(wanted - set(PERSON_LANGUAGES))
    if unknown:
        raise ValueError(", ".join(unknown))
    return [lang for lang in PERSON_LANGUAGES if lang in wanted]


async def on_duty_speakers(session: AsyncSession) -> dict[int, set[str]]:
    """The languages of every active counsellor and supervisor whose status is available."""
    return {uid: langs for uid, (langs, _capacity) in (await on_duty_staff(session)).items()}


async def on_duty_staff(session: AsyncSession) -> dict[int, tuple[set[str], int]]:
    """Languages and capacity of every active counsellor and supervisor whose status is available."""
    rows = await session.execute(
        select(StaffUser.id, StaffUser.spoken_languages, StaffUser.capacity)
        .join(StaffPresence, StaffPresence.user_id == StaffUser.id)
        .where(
            StaffPresence.status == AVAILABLE,
            StaffUser.active.is_(True),
            StaffUser.role.in_(ON_DUTY_ROLES),
        )
    )
    return {
        uid: ({matched(lang) for lang in (langs or [])}, int(capacity)) for uid, langs, capacity in rows.all()
    }


def free_speakers(staff: Mapping[int, tuple[set[str], int]], loads: Mapping[int, int]) -> set[str]:
    """The languages spoken by someone on duty with room for one more conversation."""
    out: set[str] = set()
    for uid, (langs, capacity) in staff.items():
        if loads.get(uid, 0) < capacity:
            out |= langs
    return out


async def next_order(session: AsyncSession, user: StaffUser) -> tuple[set[str], set[str]]:
    """``(prefer, leave)`` for :func:`gateway.queue.claim_next`: the languages other than Swedish
    and English the member speaks (few do: such conversations go to those who can), and those only
    a colleague on duty speaks."""
    mine = spoken(user)
    others = set().union(
        *(langs for uid, langs in (await on_duty_speakers(session)).items() if uid != user.id)
    )
    return mine - set(WORKING_LANGUAGES), others - mine


def notice_text(language: str, hours: Mapping[str, str]) -> str | None:
    """The notice in the person's language (None for a language the line has no words in)."""
    lang = matched(language)
    if lang not in catalogues.languages("person"):
        return None
    text = catalogues.text("person", lang, "notice.language_unspoken")
    when = hours.get(language) or hours.get(lang)
    if when:
        text += "\n" + catalogues.text("person", lang, "notice.language_hours", hours=when)
    return text


def needs_notice(event: Event) -> bool:
    """A cheap test: a conversation waiting in a language other than Swedish and English."""
    conv = event.payload.get("conversation")
    if not isinstance(conv, dict) or conv.get("state") != "queued":
        return False
    language = str(conv.get("language") or "")
    return language not in WORKING_LANGUAGES and matched(language) in catalogues.languages("person")


def notice_listener(
    db: Database, outgoing: Callable[[], OutgoingMessages], hours: Mapping[str, str]
) -> Callable[[Event], Awaitable[None]]:
    """The consumer of ``conversation`` events (group :data:`NOTICE_GROUP`, once per fleet): tells
    the person of a waiting conversation nobody on duty can talk with in its language, once."""

    async def on_event(event: Event) -> None:
        if not needs_notice(event):
            return
        conv_id = str(event.payload.get("conversation_id", ""))
        async with db.session() as session:
            try:
                conv = await repo.get_conversation(session, conv_id, for_update=True)
            except NotFound:
                return
            meta: dict[str, Any] = dict(conv.meta or {})
            if conv.state != "queued" or meta.get(NOTICE_MARK):
                return
            language = matched(conv.language or "")
            if any(language in langs for langs in (await on_duty_speakers(session)).values()):
                return  # offered first to those who speak it (Nästa samtal, the console)
            text = notice_text(language, hours)
            if text is None:
                return
            conv.meta = {**meta, NOTICE_MARK: True}
            await session.flush()
            writer = outgoing()
            await writer.write(session, conv.id, text, meta={"notice": "language"})
        writer.committed()

    return on_event


__all__ = [
    "NOTICE_GROUP",
    "PERSON_LANGUAGES",
    "WORKING_LANGUAGES",
    "clean_languages",
    "free_speakers",
    "matched",
    "next_order",
    "notice_listener",
    "notice_text",
    "on_duty_speakers",
    "on_duty_staff",
    "spoken",
]
