"""The audit page's reading of ``audit_events``: filtered by staff member, conversation, action
and date (Stockholm days), newest first, paginated; and the same selection as CSV.

The CSV export is itself audited (``audit.exported``, with its filters).  Cells that a spreadsheet
would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) are
prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from gateway.errors import InvalidInput
from gateway.store import repo
from gateway.store.models import AuditEvent, StaffUser
from handoff.records.reports.periods import local_midnight

from .search import parse_date, parse_page

PAGE_SIZE = 50
EXPORT_LIMIT = 100_000
CSV_COLUMNS = ("at", "actor", "action", "conversation_id", "details")


@dataclass(frozen=True, slots=True)
class AuditQuery:
    actor: str | None = None
    conversation_id: str | None = None
    action: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1

    @classmethod
    def parse(cls, q: Any) -> AuditQuery:
        conv = str(q.get("conversation_id") or "").strip() or None
        if conv is not None and (len(conv) > 32 or not conv.isalnum()):
            raise InvalidInput("bad_filter")
        actor = str(q.get("actor") or "").strip() or None
        if actor is not None and (len(actor) > 64 or not actor.isprintable()):
            raise InvalidInput("bad_filter")
        action = str(q.get("action") or "").strip() or None
        if action is not None and (
            len(action) > 64 or not action.replace(".", "").replace("_", "").isalnum()
        ):
            raise InvalidInput("bad_filter")
        return cls(
            actor=actor,
            conversation_id=conv,
            action=action,
            date_from=parse_date(q.get("from")),
            date_to=parse_date(q.get("to")),
            page=parse_page(q.get("page")),
        )

    def filters(self) -> dict[str, str]:
        """The filters that were set, for the export's own audit event."""
        return {k: str(v) for k, v in asdict(self).items() if v is not None and k != "page"}


def _where(q: AuditQuery) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if q.actor:
        out.append(AuditEvent.actor == q.actor)
    if q.conversation_id:
        out.append(AuditEvent.conversation_id == q.conversation_id)
    if q.action:
        out.append(AuditEvent.action == q.action)
    if q.date_from:
        out.append(AuditEvent.at >= local_midnight(q.date_from))
    if q.date_to:
        out.append(AuditEvent.at < local_midnight(date.fromordinal(q.date_to.toordinal() + 1)))
    return out


def _row(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at.isoformat(),
        "actor": e.actor,
        "action": e.action,
        "conversation_id": e.conversation_id,
        "details": e.details or {},
    }


async def read(session: AsyncSession, q: AuditQuery) -> dict[str, Any]:
    where = _where(q)
    stmt = select(AuditEvent)
    count = select(func.count()).select_from(AuditEvent)
    if where:
        stmt = stmt.where(and_(*where))
        count = count.where(and_(*where))
    total = int((await session.execute(count)).scalar_one())
    rows = await session.execute(
        stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .offset((q.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    actions = (
        await session.execute(select(AuditEvent.action).distinct().order_by(AuditEvent.action))
    ).scalars()
    return {
        "events": [_row(e) for e in rows.scalars().all()],
        "total": total,
        "page": q.page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "page_size": PAGE_SIZE,
        "actions": list(actions),
    }


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


async def export_csv(session: AsyncSession, q: AuditQuery, actor: StaffUser) -> str:
    """Every event of the selection (at most :data:`EXPORT_LIMIT`) as CSV; the export is audited
    in the same transaction (so it is in the log before anyone has the file)."""
    where = _where(q)
    stmt = select(AuditEvent)
    if where:
        stmt = stmt.where(and_(*where))
    rows = (
        (await session.execute(stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(EXPORT_LIMIT)))
        .scalars()
        .all()
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in rows:
        r = _row(e)
        writer.writerow(
            [
                _cell(r["at"]),
                _cell(r["actor"]),
                _cell(r["action"]),
                _cell(r["conversation_id"]),
                _cell(json.dumps(r["details"], ensure_ascii=False, sort_keys=True)),
            ]
        )
    await repo.audit(
        session, "audit.exported", actor=actor, details={"filters": q.filters(), "rows": len(rows)}
    )
    return out.getvalue()
