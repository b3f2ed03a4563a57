"""The gateway's implementation of :class:`gateway.channel.ChannelServices`."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import select

from gateway.broker.base import Event, Subscription
from gateway.envelope import ConversationId, Priority
from gateway.events import TOPIC_CONVERSATION, TOPIC_QUEUE
from gateway.store import repo
from gateway.store.models import Conversation
from gateway.store.repo import message_dict


def _code_hash(channel: str, code: str) -> str:
    return hashlib.sha256(f"{channel}:{code.strip().upper()}".encode()).hexdigest()


class AppChannelServices:
    def __init__(self, app: web.Application) -> None:
        self._app = app

    @property
    def _db(self) -> Any:
        from gateway.appkeys import DB

        return self._app[DB]

    async def history(self, conversation_id: ConversationId, after_seq: int = 0) -> list[dict[str, Any]]:
        async with self._db.session() as session:
            return [message_dict(m) for m in await repo.messages_of(session, conversation_id, after_seq)]

    async def conversation_state(self, conversation_id: ConversationId) -> dict[str, Any] | None:
        async with self._db.session() as session:
            conv = await session.get(Conversation, conversation_id)
            if conv is None:
                return None
            return {
                "state": conv.state,
                "priority": Priority(conv.priority).label,
                "queue_position": await repo.queue_position(session, conv),
                "assigned": conv.assigned_to is not None and conv.state == "assigned",
                "language": conv.language,
            }

    async def set_resume_code(self, conversation_id: ConversationId, code: str) -> None:
        async with self._db.session() as session:
            conv = await repo.get_conversation(session, conversation_id, for_update=True)
            conv.resume_code_hash = _code_hash(conv.channel, code)

    async def find_by_resume_code(self, channel: str, code: str) -> ConversationId | None:
        """The newest conversation with this code, open or closed: a person who comes back with
        their code after the close sees it and may start a new one under the same secret (and so
        is recognised as returning).  Retention and unlinking clear the code's hash."""
        async with self._db.session() as session:
            found = (
                await session.execute(
                    select(Conversation.id)
                    .where(Conversation.resume_code_hash == _code_hash(channel, code))
                    .order_by(Conversation.created_at.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        return ConversationId(found) if found else None

    async def allow(self, key: str, limit: int, window: float) -> bool:
        """The fleet's rate limit; admits when the limiter is unreachable (never lose a message)."""
        from gateway.appkeys import RATE_LIMITER

        return await self._app[RATE_LIMITER].allow(key, limit, window, fail_open=True)

    async def subscribe_events(self, handler: Callable[[dict[str, Any]], Awaitable[None]]) -> Subscription:
        from gateway.appkeys import BROKER

        async def on_event(event: Event) -> None:
            await handler({"topic": event.topic, **event.payload})

        broker = self._app[BROKER]
        return _Both(
            await broker.fanout(TOPIC_CONVERSATION, on_event), await broker.fanout(TOPIC_QUEUE, on_event)
        )


class _Both(Subscription):
    def __init__(self, *subs: Subscription) -> None:
        self._subs = subs

    async def cancel(self) -> None:
        for sub in self._subs:
            await sub.cancel()
