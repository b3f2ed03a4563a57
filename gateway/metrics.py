"""What an operator measures: the Prometheus metrics of one process (``GET /metrics``).

One registry per application (not prometheus-client's global one), so that several gateways in
one process (tests) each count their own.  Each process of a fleet serves its own figures;
Prometheus scrapes every process and sums.  No label carries anything personal: channel names,
priorities, stages, components and sender kinds only, never a pseudonym, an id or a text.

Counters are counted where the change becomes visible after its commit: messages in and out from
the events the outbox relay publishes (``conversation`` / ``message``), critical alerts where
the console hub sends them.  Gauges that describe shared state (the queue, the outbox backlog) are
read from the store when scraped (:meth:`Metrics.refresh`), so they are the fleet's, the same in
every process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from sqlalchemy import func, select

from gateway.envelope import Priority, utcnow
from gateway.store.db import Database
from gateway.store.models import Conversation, OutboxEvent

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PRIORITIES = tuple(p.label for p in Priority)
TRIAGE_STAGES = ("language", "classifier", "embedding", "decision")
"""The stages nlu.triage times (``extra["stages_ms"]``: ``<stage>_ms``); decision includes the
rules and the risk stage."""


LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def _utc(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class Metrics:
    """The instruments of one application."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.messages_in = Counter(
            "helpline_messages_in", "Messages from people stored, per channel", ["channel"], registry=r
        )
        self.messages_out = Counter(
            "helpline_messages_out",
            "Messages to people stored for sending (bot, counsellor, system), per channel",
            ["channel", "sender"],
            registry=r,
        )
        self.first_answer = Histogram(
            "helpline_first_answer_seconds",
            "From a conversation joining the queue to its first counsellor reply",
            buckets=(5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200),
            registry=r,
        )
        self.triage = Histogram(
            "helpline_triage_seconds",
            "One message's triage, per stage (language, classifier, embedding, decision) and in all (total)",
            ["stage"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.critical_alerts = Counter(
            "helpline_critical_alerts",
            "Critical conversations alerted on this process's consoles",
            registry=r,
        )
        self.alert_delivery = Histogram(
            "helpline_critical_alert_delivery_seconds",
            "From a critical alert's publication to its frame sent to every console of this process",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.errors = Counter(
            "helpline_errors",
            "Store and broker errors (requests answered 503, relay and health failures)",
            ["component"],
            registry=r,
        )
        self.queue_length = Gauge(
            "helpline_queue_length",
            "Conversations waiting for a counsellor (fleet)",
            ["priority"],
            registry=r,
        )
        self.queue_oldest = Gauge(
            "helpline_queue_oldest_wait_seconds",
            "How long the longest-waiting conversation has waited (fleet)",
            ["priority"],
            registry=r,
        )
        self.connected = Gauge(
            "helpline_connected", "Open sockets of this process: visitors, consoles", ["kind"], registry=r
        )
        self.outbox_backlog = Gauge(
            "helpline_outbox_backlog", "Events written but not yet published (fleet)", registry=r
        )
        self.loop_lag = Histogram(
            "helpline_event_loop_lag_seconds",
            "How late the event loop ran a timer due every 100 ms: a stall of the loop (a blocking "
            "call, a long computation) shows as a late sample",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.loop_lag_longest = Gauge(
            "helpline_event_loop_lag_longest_seconds",
            "The longest event loop stall sampled since the process started",
            registry=r,
        )
        # process_open_fds and process_max_fds beside the CPU and memory: a flood of connections
        # that nears the limit shows before people are refused.
        ProcessCollector(registry=r)
        self._sockets: dict[str, Callable[[], int]] = {}
        self._longest_lag = 0.0
        for priority in PRIORITIES:
            self.queue_length.labels(priority)
            self.queue_oldest.labels(priority)
        for component in ("store", "broker"):
            self.errors.labels(component)
        for kind in ("visitors", "consoles"):
            self.connected.labels(kind)

    # -- what the parts report -------------------------------------------------------------------

    def count_sockets(self, kind: str, count: Callable[[], int]) -> None:
        """``count`` is asked at every scrape (``visitors``, ``consoles``)."""
        self._sockets[kind] = count

    def error(self, component: str) -> None:
        self.errors.labels(component).inc()

    def published(self, topic: str, payload: Mapping[str, Any]) -> None:
        """An event the outbox relay published (after its commit)."""
        if topic != "conversation" or payload.get("kind") != "message":
            return
        message = payload.get("message") or {}
        channel = str((payload.get("conversation") or {}).get("channel", "unknown"))
        if message.get("direction") == "in":
            self.messages_in.labels(channel).inc()
        elif message.get("direction") == "out":
            self.messages_out.labels(channel, str(message.get("sender_kind", "unknown"))).inc()

    def triaged(self, stages_ms: Mapping[str, Any], total: float) -> None:
        for stage in TRIAGE_STAGES:
            value = stages_ms.get(f"{stage}_ms")
            if isinstance(value, int | float):
                self.triage.labels(stage).observe(value / 1000)
        self.triage.labels("total").observe(total)

    def lagged(self, seconds: float) -> None:
        """One sample of the event loop's lag (:func:`gateway.probes.heartbeat_ctx`)."""
        self.loop_lag.observe(seconds)
        if seconds > self._longest_lag:
            self._longest_lag = seconds
            self.loop_lag_longest.set(seconds)

    def answered_first(self, waiting_since: datetime) -> None:
        self.first_answer.observe(max(0.0, (utcnow() - _utc(waiting_since)).total_seconds()))

    def alerted(self, published_at: datetime, consoles: int) -> None:
        """A critical alert handled by this process's hub, sent to ``consoles`` consoles."""
        self.critical_alerts.inc()
        if consoles:
            self.alert_delivery.observe(max(0.0, (utcnow() - _utc(published_at)).total_seconds()))

    # -- scraping --------------------------------------------------------------------------------

    async def refresh(self, db: Database | None) -> None:
        """Read the gauges of shared state from the store (a failure counts as a store error and
        leaves the last values)."""
        for kind, count in self._sockets.items():
            try:
                self.connected.labels(kind).set(count())
            except Exception as exc:  # a part that is stopping; the next scrape reads it again
                log.debug("metrics: %s count failed (%s)", kind, type(exc).__name__)
        if db is None:
            return
        try:
            async with db.session() as session:
                waiting = (
                    await session.execute(
                        select(Conversation.priority, func.count(), func.min(Conversation.queued_at))
                        .where(Conversation.state == "queued")
                        .group_by(Conversation.priority)
                    )
                ).all()
                backlog = (await session.execute(select(func.count()).select_from(OutboxEvent))).scalar_one()
        except Exception as exc:
            log.warning("metrics: the store did not answer (%s)", type(exc).__name__)
            self.error("store")
            return
        now = utcnow()
        found = {Priority(p).label: (n, oldest) for p, n, oldest in waiting}
        for label in PRIORITIES:
            n, oldest = found.get(label, (0, None))
            self.queue_length.labels(label).set(n)
            self.queue_oldest.labels(label).set((now - _utc(oldest)).total_seconds() if oldest else 0)
        self.outbox_backlog.set(backlog)

    def render(self) -> bytes:
        return generate_latest(self.registry)


METRICS = web.AppKey("metrics", Metrics)
