"""The scheduled purge: :class:`RetentionScheduler` runs :func:`handoff.records.retention.run_retention`
in the background of the gateway, once per interval across the fleet (a lease in Redis; always
granted in the embedded single-process default)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gateway.broker.base import Broker
from gateway.lease import Lease
from gateway.store.db import Database
from gateway.tasks import cancel_and_wait
from handoff.records.event_retention import trim_events
from handoff.records.retention import PurgeReport, RetentionPolicy, run_retention

log = logging.getLogger(__name__)


class RetentionScheduler:
    """Runs :func:`run_retention` every ``interval`` seconds, on one process of the fleet at a time.

    Every process tries each interval to take the lease ``retention`` for almost one interval and
    does not release it, so across the fleet the purge runs about once per interval; the purge is
    idempotent, so a rare double run does no harm.
    """

    def __init__(
        self,
        db: Database,
        policy: RetentionPolicy,
        lease: Lease,
        interval: float,
        *,
        first_delay: float | None = None,
        clock: Any = None,
        broker: Broker | None = None,
    ) -> None:
        from gateway.envelope import utcnow

        self.db = db
        self.policy = policy
        self.lease = lease
        self.interval = interval
        self.first_delay = min(60.0, interval) if first_delay is None else first_delay
        self._clock = clock or utcnow
        self.broker = broker
        """Whose stored events are trimmed with every purge (handoff.records.event_retention)."""
        self.runs = 0
        self.last: PurgeReport | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="retention")

    async def run_once(self) -> PurgeReport | None:
        """One scheduled attempt: None when another process holds the lease this interval."""
        try:
            if not await self.lease.acquire():
                return None
        except Exception as exc:
            log.warning("retention: lease unavailable (%s); skipping this interval", type(exc).__name__)
            return None
        now = self._clock()
        report = await run_retention(self.db, self.policy, now, False, trigger="scheduled")
        if self.broker is not None:
            await trim_events(self.broker, min(self.policy.broker_events, self.policy.transcripts), now)
        self.runs += 1
        self.last = report
        return report

    async def _loop(self) -> None:
        await asyncio.sleep(self.first_delay)
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("retention: purge failed (%s)", type(exc).__name__)
            await asyncio.sleep(self.interval)

    async def close(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        await self.lease.close()


__all__ = ["RetentionScheduler"]
