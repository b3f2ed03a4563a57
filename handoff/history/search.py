"""Search for supervisors: documentation records, and transcripts still within retention.

Filters: a date range (Stockholm days, on the conversation's start), channel, intent, municipality
(the documentation record's) and words (every word must occur: in the record's summary, or in one
of the person's or counsellors' messages).  Words are matched with ``ILIKE`` on PostgreSQL and a
case-folding ``GLOB`` on SQLite (:func:`like`); what the user types is never a wildcard.  A transcript hit lists the conversation and how many messages matched, never
their text: reading it is opening the transcript (audited ``transcript.opened``).  Results are
paginated (:data:`PAGE_SIZE`); opening a documentation result is audited (``search.opened``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from gateway.envelope import Priority
from gateway.errors import InvalidInput
from gateway.store import repo
from gateway.store.models import Conversation, Message, StaffUser
from handoff.records.models import DocumentationRecord
from handoff.records.reports.periods import local_midnight

PAGE_SIZE = 20
KINDS = ("documentation", "transcripts")
MAX_WORDS = 8


@dataclass(frozen=True, slots=True)
class Query:
    kind: str = "documentation"
    words: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    channel: str | None = None
    intent: str | None = None
    municipality: str | None = None
    page: int = 1
    transcripts_since: datetime | None = None
    """Transcripts of conversations closed before this are past retention (set by the route from
    the ``retention`` configuration), even if the purge has not run yet."""

    @classmethod
    def parse(cls, q: Any) -> Query:
        """From a request's query string (a mapping); :class:`InvalidInput` names what is wrong."""
        kind = str(q.get("kind") or "documentation")
        if kind not in KINDS:
            raise InvalidInput("bad_filter")
        words = tuple(str(q.get("q") or "").split())[:MAX_WORDS]
        if any(len(w) > 100 for w in words):
            raise InvalidInput("bad_filter")
        return cls(
            kind=kind,
            words=words,
            date_from=parse_date(q.get("from")),
            date_to=parse_date(q.get("to")),
            channel=_short(q.get("channel"), 32),
            intent=_short(q.get("intent"), 40),
            municipality=_short(q.get("municipality"), 8),
            page=parse_page(q.get("page")),
        )


def _short(value: Any, limit: int) -> str | None:
    text = str(value or "").strip()
    if not text:
        return None
    if len(text) > limit or not text.replace("_", "").replace("-", "").isalnum():
        raise InvalidInput("bad_filter")
    return text


def parse_date(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput("bad_date") from None


def parse_page(value: Any) -> int:
    if value in (None, ""):
        return 1
    text = str(value)
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise InvalidInput("bad_page")
    return int(text)


def like(column: Any, word: str, dialect: str = "postgresql") -> ColumnElement[bool]:
    """``column`` contains ``word``, whatever the case.  PostgreSQL: ``ILIKE`` (Unicode case
    folding).  SQLite's ``lower()`` and ``LIKE`` fold ASCII only ("RÅD" would not match "råd"), so
    there each letter becomes a ``GLOB`` class of its two cases (``[rR][åÅ][dD]``)."""
    if dialect == "sqlite":
        parts = []
        for ch in word:
            if ch.lower() != ch.upper():
                parts.append(f"[{ch.lower()}{ch.upper()}]")
            elif ch in "*?[]":
                parts.append(f"[{ch}]")
            else:
                parts.append(ch)
        return column.op("GLOB")("*" + "".join(parts) + "*")  # type: ignore[no-any-return]
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")  # type: ignore[no-any-return]


def _day_bounds(query: Query) -> tuple[datetime | None, datetime | None]:
    lo = local_midnight(query.date_from) if query.date_from else None
    hi = local_midnight(date.fromordinal(query.date_to.toordinal() + 1)) if query.date_to else None
    return lo, hi


def _conversation_filters(query: Query) -> list[ColumnElement[bool]]:
    lo, hi = _day_bounds(query)
    out: list[ColumnElement[bool]] = []
    if lo is not None:
        out.append(Conversation.created_at >= lo)
    if hi is not None:
        out.append(Conversation.created_at < hi)
    if query.channel:
        out.append(Conversation.channel == query.channel)
    if query.intent:
        out.append(Conversation.intent == query.intent)
    return out


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _page(total: int, query: Query) -> dict[str, int]:
    pages = max(1, -(-total // PAGE_SIZE))
    return {"total": total, "page": query.page, "pages": pages, "page_size": PAGE_SIZE}


async def search(session: AsyncSession, query: Query) -> dict[str, Any]:
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    if query.kind == "documentation":
        return await _search_documentation(session, query, dialect)
    return await _search_transcripts(session, query, dialect)


async def _search_documentation(session: AsyncSession, query: Query, dialect: str) -> dict[str, Any]:
    where = _conversation_filters(query)
    if query.municipality:
        where.append(DocumentationRecord.municipality_code == query.municipality)
    where.extend(like(DocumentationRecord.summary, w, dialect) for w in query.words)
    base = select(DocumentationRecord, Conversation).join(
        Conversation, Conversation.id == DocumentationRecord.conversation_id
    )
    if where:
        base = base.where(and_(*where))
    total = int((await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one())
    rows = await session.execute(
        base.order_by(Conversation.created_at.desc(), Conversation.id)
        .offset((query.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    results = [
        {
            "kind": "documentation",
            "conversation_id": conv.id,
            "created_at": _iso(conv.created_at),
            "channel": conv.channel,
            "intent": conv.intent,
            "priority": Priority(conv.priority).label,
            "municipality_code": record.municipality_code,
            "outcome": record.outcome,
            "transcript_kept": None,
        }
        for record, conv in rows.all()
    ]
    return {"kind": query.kind, "results": results, **_page(total, query)}


async def _search_transcripts(session: AsyncSession, query: Query, dialect: str) -> dict[str, Any]:
    """Conversations whose messages still exist (retention deletes or anonymises them) and match."""
    where = _conversation_filters(query)
    message_where: list[ColumnElement[bool]] = [Message.conversation_id == Conversation.id]
    message_where.extend(like(Message.text, w, dialect) for w in query.words)
    matches = select(func.count()).select_from(Message).where(and_(*message_where)).scalar_subquery()
    base = select(Conversation, DocumentationRecord.municipality_code, matches.label("matches")).outerjoin(
        DocumentationRecord, DocumentationRecord.conversation_id == Conversation.id
    )
    if query.municipality:
        where.append(DocumentationRecord.municipality_code == query.municipality)
    # Every word in some message of the conversation (not necessarily the same one).
    for w in query.words:
        where.append(
            select(Message.id)
            .where(Message.conversation_id == Conversation.id, like(Message.text, w, dialect))
            .exists()
        )
    where.append(select(Message.id).where(Message.conversation_id == Conversation.id).exists())
    # Within retention: the purge clears the pseudonym of every transcript it deletes or
    # anonymises (an unlinked conversation's random pseudonym is not empty); and a transcript
    # whose period has passed is not shown while it waits for the next purge.
    where.append(Conversation.pseudonym != "")
    if query.transcripts_since is not None:
        where.append(Conversation.closed_at.is_(None) | (Conversation.closed_at > query.transcripts_since))
    base = base.where(and_(*where))
    total = int((await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one())
    rows = await session.execute(
        base.order_by(Conversation.created_at.desc(), Conversation.id)
        .offset((query.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    results = [
        {
            "kind": "transcripts",
            "conversation_id": conv.id,
            "created_at": _iso(conv.created_at),
            "channel": conv.channel,
            "intent": conv.intent,
            "priority": Priority(conv.priority).label,
            "municipality_code": municipality,
            "outcome": None,
            "matches": int(count or 0),
            "transcript_kept": True,
        }
        for conv, municipality, count in rows.all()
    ]
    return {"kind": query.kind, "results": results, **_page(total, query)}


async def open_record(session: AsyncSession, conversation_id: str, actor: StaffUser) -> dict[str, Any] | None:
    """A documentation result opened from the search: the record, audited ``search.opened``."""
    record = await session.get(DocumentationRecord, conversation_id)
    if record is None:
        return None
    conv = await session.get(Conversation, conversation_id)
    await repo.audit(
        session,
        "search.opened",
        actor=actor,
        conversation_id=conversation_id,
        details={"kind": "documentation"},
    )
    return {
        "conversation_id": conversation_id,
        "created_at": _iso(conv.created_at) if conv else None,
        "channel": conv.channel if conv else None,
        "intent": conv.intent if conv else None,
        "fields": record.fields,
        "summary": record.summary,
        "outcome": record.outcome,
        "municipality_code": record.municipality_code,
        "referral_made": record.referral_made,
        "documented_at": _iso(record.documented_at),
    }
