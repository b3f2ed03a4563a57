"""Events between the parts of the gateway and between its processes.

``make_broker(None)`` gives the in-process broker of the embedded default; ``make_broker(url)``
the Redis Streams broker that several gateway processes share.  Both keep the semantics described
in :mod:`gateway.broker.base`.
"""

from __future__ import annotations

from gateway.broker.base import Broker, Event, Handler, Subscription, new_event_id


def make_broker(
    redis_url: str | None,
    *,
    prefix: str = "helpline:",
    reclaim_idle: float = 30.0,
    consumer_name: str | None = None,
) -> Broker:
    """The in-process broker when ``redis_url`` is None, else the Redis Streams broker."""
    if redis_url is None:
        from gateway.broker.inprocess import InProcessBroker

        return InProcessBroker(reclaim_idle=reclaim_idle, consumer_name=consumer_name)
    from gateway.broker.redis import RedisBroker

    return RedisBroker(redis_url, prefix=prefix, reclaim_idle=reclaim_idle, consumer_name=consumer_name)


__all__ = ["Broker", "Event", "Handler", "Subscription", "make_broker", "new_event_id"]
