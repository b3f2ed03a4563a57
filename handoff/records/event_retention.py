"""Message text must not outlive the retention rules or an erasure in the broker's streams.

Live events (``conversation``) carry a message's text.  The Redis broker keeps its streams, so:

* :func:`trim_events` deletes every stored event older than the policy's ``broker_events`` period
  (``retention.broker_events_hours``, default 24, never longer than the transcripts' period), run
  with every scheduled retention purge;
* :func:`forget_conversation` deletes every stored event of an erased conversation (and its
  events still waiting in the outbox were deleted in the erasure's transaction).

A broker that is unreachable is logged (no ids) and left for the next run: the age limit deletes
the entries in the end.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from gateway.broker.base import Broker

log = logging.getLogger(__name__)


async def trim_events(broker: Broker, age: timedelta, now: datetime) -> int:
    """Delete the stored events older than ``age`` (the policy's ``broker_events``, never longer than
    its transcripts' period, :class:`handoff.records.retention.RetentionPolicy`)."""
    try:
        removed = await broker.trim_before(now - age)
    except Exception as exc:
        log.warning("retention: broker events not trimmed (%s); next run", type(exc).__name__)
        return 0
    if removed:
        log.info("retention: %d broker events older than %s deleted", removed, age)
    return removed


async def forget_conversation(broker: Broker, conversation_id: str) -> int:
    try:
        return await broker.forget_conversation(conversation_id)
    except Exception as exc:
        log.warning("erasure: broker events not deleted (%s); the age limit deletes them", type(exc).__name__)
        return 0
