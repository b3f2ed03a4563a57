"""The Person panel: a returning person's earlier conversations, and unlinking them on request.

A person is recognised by their pseudonym on one channel (``Conversation.pseudonym``: a keyed
hash of the channel address; a resumed web chat has the same secret and so the same pseudonym).
Their earlier conversations are the closed ones with that pseudonym; the panel shows their dates,
documentation summaries and referrals, never a transcript.  Retention clears a conversation's
pseudonym with its transcript, so a person is recognised at most as long as transcripts are kept.

Unlinking ("glöm mig mellan samtalen", by the person in the chat or by a counsellor on their
behalf): every earlier closed conversation gets a fresh random pseudonym of its own
(:func:`gateway.conversation.unlinked_pseudonym`), so nothing finds it from the person's address
any more; the current conversation is flagged :data:`~gateway.conversation.UNLINK_AT_CLOSE` and
gets its own random pseudonym when it closes (while open it needs its pseudonym: it is how the
person's next message finds it).  The random pseudonyms are not empty, so retention still purges
those transcripts on time and clears the pseudonym then.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.conversation import UNLINK_AT_CLOSE, UNLINKED_PREFIX, ConversationState, unlinked_pseudonym
from gateway.envelope import Priority
from gateway.store import repo
from gateway.store.models import Conversation, StaffUser
from handoff.records.models import DocumentationRecord
from handoff.referrals.models import Referral

S = ConversationState
EARLIER_STATES = (S.CLOSED.value, S.DOCUMENTED.value)
EARLIER_LIMIT = 20

# The person's own words for "forget me between conversations", a whole message (folded: lower
# case, no accents, no punctuation).  "glöm mig" alone is taken only as the whole message ("glöm
# mig inte" means the opposite).
_FORGET_PHRASES = (
    "glom mig mellan samtalen",
    "glom mig mellan samtal",
    "forget me between conversations",
)
_FORGET_WHOLE = ("glom mig", "forget me", "/glom", "/forget")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w/]+", " ", plain).split())


def asks_to_be_forgotten(text: str) -> bool:
    folded = _fold(text)
    return folded in _FORGET_WHOLE or any(p in folded for p in _FORGET_PHRASES)


def is_unlinked(conv: Conversation) -> bool:
    meta = conv.meta or {}
    return bool(meta.get(UNLINK_AT_CLOSE) or meta.get("unlinked")) or conv.pseudonym.startswith(
        UNLINKED_PREFIX
    )


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


# Built once (read with every claim's transcript): see gateway.store.repo.
_EARLIER = (
    select(Conversation)
    .where(Conversation.channel == bindparam("channel"), Conversation.pseudonym == bindparam("pseudonym"))
    .where(Conversation.id != bindparam("id"), Conversation.state.in_(EARLIER_STATES))
    .where(Conversation.created_at <= bindparam("at", type_=Conversation.__table__.c.created_at.type))
    .order_by(Conversation.created_at.desc())
    .limit(EARLIER_LIMIT)
)


async def _earlier(session: AsyncSession, conv: Conversation) -> list[Conversation]:
    if not conv.pseudonym or is_unlinked(conv):
        return []
    whose = {"channel": conv.channel, "pseudonym": conv.pseudonym, "id": conv.id, "at": conv.created_at}
    return list((await session.execute(_EARLIER, whose)).scalars().all())


async def person_view(session: AsyncSession, conv: Conversation) -> dict[str, Any]:
    """The Person panel of ``conv``: whether the person is recognised and their earlier
    conversations (dates, channel, intent, whether documented, how many referrals)."""
    earlier = await _earlier(session, conv)
    ids = [c.id for c in earlier]
    documented: set[str] = set()
    referrals: dict[str, int] = {}
    if ids:
        documented = set(
            (
                await session.execute(
                    select(DocumentationRecord.conversation_id).where(
                        DocumentationRecord.conversation_id.in_(ids)
                    )
                )
            )
            .scalars()
            .all()
        )
        for cid in (
            await session.execute(select(Referral.conversation_id).where(Referral.conversation_id.in_(ids)))
        ).scalars():
            referrals[cid] = referrals.get(cid, 0) + 1
    return {
        "conversation_id": conv.id,
        "unlinked": is_unlinked(conv),
        "earlier": [
            {
                "conversation_id": c.id,
                "channel": c.channel,
                "intent": c.intent,
                "priority": Priority(c.priority).label,
                "created_at": _iso(c.created_at),
                "closed_at": _iso(c.closed_at),
                "documented": c.id in documented,
                "referrals": referrals.get(c.id, 0),
            }
            for c in earlier
        ],
    }


async def earlier_record(
    session: AsyncSession, conv: Conversation, earlier_id: str, actor: StaffUser
) -> dict[str, Any] | None:
    """One earlier conversation's documentation and referrals (never its transcript), audited as
    ``person.earlier_opened``; None when it is not an earlier conversation of the same person."""
    earlier = {c.id: c for c in await _earlier(session, conv)}
    found = earlier.get(earlier_id)
    if found is None:
        return None
    record = await session.get(DocumentationRecord, earlier_id)
    refs = (
        (
            await session.execute(
                select(Referral).where(Referral.conversation_id == earlier_id).order_by(Referral.created_at)
            )
        )
        .scalars()
        .all()
    )
    await repo.audit(
        session,
        "person.earlier_opened",
        actor=actor,
        conversation_id=earlier_id,
        details={"from": conv.id},
    )
    return {
        "conversation_id": earlier_id,
        "created_at": _iso(found.created_at),
        "closed_at": _iso(found.closed_at),
        "intent": found.intent,
        "priority": Priority(found.priority).label,
        "documentation": None
        if record is None
        else {
            "summary": record.summary,
            "outcome": record.outcome,
            "environment": record.environment,
            "municipality_code": record.municipality_code,
            "referral_made": record.referral_made,
            "documented_at": _iso(record.documented_at),
        },
        "referrals": [
            {
                "recipient_id": r.recipient_id,
                "topic": r.topic,
                "status": r.status,
                "created_at": _iso(r.created_at),
                "sent_at": _iso(r.sent_at),
            }
            for r in refs
        ],
    }


async def forget(session: AsyncSession, conv: Conversation, actor: StaffUser | None, via: str) -> int:
    """Unlink the person of ``conv`` (see the module docstring); the number of earlier
    conversations unlinked.  Audited as ``person.unlinked`` (``via``: ``person`` or ``counsellor``)."""
    earlier_ids = (
        (
            await session.execute(
                select(Conversation.id)
                .where(Conversation.channel == conv.channel, Conversation.pseudonym == conv.pseudonym)
                .where(Conversation.id != conv.id, Conversation.state.in_(EARLIER_STATES))
            )
        )
        .scalars()
        .all()
        if conv.pseudonym
        else []
    )
    for cid in earlier_ids:
        earlier = await session.get(Conversation, cid)
        if earlier is not None:
            earlier.pseudonym = unlinked_pseudonym()  # one each: they are not linked to each other either
            earlier.resume_code_hash = None  # a web chat's resume code no longer leads to it
            earlier.meta = {**(earlier.meta or {}), "unlinked": True}
    if conv.state in EARLIER_STATES:
        if conv.pseudonym and not conv.pseudonym.startswith(UNLINKED_PREFIX):
            conv.pseudonym = unlinked_pseudonym()
            conv.resume_code_hash = None
        conv.meta = {**(conv.meta or {}), "unlinked": True}
    else:
        conv.meta = {**(conv.meta or {}), UNLINK_AT_CLOSE: True}
    await repo.audit(
        session,
        "person.unlinked",
        actor=actor,
        conversation_id=conv.id,
        details={"via": via, "earlier": len(earlier_ids)},
    )
    return len(earlier_ids)
