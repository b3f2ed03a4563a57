"""Reading the records a handoff feature keeps of a conversation (a referral, a disclosure): one
by id (a missing one is ``NotFound``), its conversation, those of a conversation in the order they
were made, a filtered list, each as the feature's view; and the live events a feature publishes
besides its outbox rows (best effort: the store has everything, the console also looks again).

Each feature keeps only what differs: its model, its view of a record and its own lists
(:mod:`handoff.referrals.reading`, :mod:`handoff.disclosures.reading`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped

from gateway.broker.base import Broker
from gateway.errors import NotFound
from gateway.store.db import Database

log = logging.getLogger(__name__)


class HandoffRecord(Protocol):
    """What every handoff record has (the columns this module reads by)."""

    id: Mapped[str]
    conversation_id: Mapped[str]
    created_at: Mapped[datetime]


T = TypeVar("T", bound=HandoffRecord)
View = Callable[[T], dict[str, Any]]


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class Records(Generic[T]):
    """Reading one kind of handoff record; ``view`` is what the console sees of one, ``what``
    names it in ``NotFound`` (``"referral not found"``)."""

    def __init__(self, db: Database, model: type[T], view: View[T], what: str) -> None:
        self.db = db
        self.model = model
        self.view = view
        self.what = what
        records: Any = model  # every kind of record names its conversation and its creation
        self._of_conversation: Select[Any] = (
            select(records)
            .where(records.conversation_id == bindparam("conversation_id"))
            .order_by(records.created_at)
        )
        """Built once: read with every claim's transcript."""

    async def load(self, session: AsyncSession, record_id: str, *, for_update: bool = False) -> T:
        """The record in ``session`` (locked for the transaction with ``for_update``), or NotFound."""
        stmt = select(self.model).where(self.model.id == record_id)
        if for_update:
            stmt = stmt.with_for_update()
        found = (await session.execute(stmt)).scalar_one_or_none()
        if found is None:
            raise NotFound(f"{self.what} not found")
        return found

    async def get(self, record_id: str) -> dict[str, Any]:
        async with self.db.session() as session:
            return self.view(await self.load(session, record_id))

    async def conversation_of(self, record_id: str) -> str:
        async with self.db.session() as session:
            return str((await self.load(session, record_id)).conversation_id)

    async def of_conversation(
        self, conversation_id: str, session: AsyncSession | None = None
    ) -> list[dict[str, Any]]:
        """A conversation's records, oldest first (in ``session``, else in a read of their own)."""
        params = {"conversation_id": conversation_id}
        return await self._shown(self._of_conversation, params, self.view, session)

    async def listed(
        self,
        *where: ColumnElement[bool],
        order_by: Any,
        view: View[T] | None = None,
        session: AsyncSession | None = None,
    ) -> list[dict[str, Any]]:
        """The records that match ``where``, in ``order_by``, each as ``view`` (default: the
        console's view); in ``session`` (a panel part read with the transcript), else in a read of
        their own."""
        query = select(self.model).where(*where).order_by(order_by)
        return await self._shown(query, {}, view or self.view, session)

    async def _shown(
        self, query: Select[Any], params: dict[str, Any], show: View[T], session: AsyncSession | None
    ) -> list[dict[str, Any]]:
        """The records ``query`` finds, each as ``show``: in ``session``, else in a read of their own."""
        if session is not None:
            return [show(r) for r in (await session.execute(query, params)).scalars().all()]
        async with self.db.reader() as own:  # the panels read this often: no commit
            return [show(r) for r in (await own.execute(query, params)).scalars().all()]


async def publish_quietly(broker: Broker, topic: str, payload: dict[str, Any], what: str) -> None:
    """Publish a live event that describes no stored change of its own (best effort: a failure is
    logged by its type; consoles read the store again on their next look)."""
    try:
        await broker.publish(topic, payload)
    except Exception as exc:
        log.warning("could not publish a %s event (%s)", what, type(exc).__name__)
