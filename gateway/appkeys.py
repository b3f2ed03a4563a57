"""Keys of the application's shared state (``web.AppKey``), importable without the app factory."""

from __future__ import annotations

from aiohttp import web

from gateway.broker.base import Broker
from gateway.channel import ChannelAdapter
from gateway.config import Settings
from gateway.lease import LeaseRunner
from gateway.metrics import METRICS
from gateway.pipeline import Pipeline
from gateway.ratelimit import RateLimiter
from gateway.store.db import Database
from nlu.result import Triager

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
BROKER = web.AppKey("broker", Broker)
TRIAGER = web.AppKey("triager", Triager)
PIPELINE = web.AppKey("pipeline", Pipeline)
ADAPTERS = web.AppKey("adapters", dict[str, ChannelAdapter])
LEASES = web.AppKey("leases", dict[str, LeaseRunner])
CONSUMER = web.AppKey("consumer", str)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)

__all__ = [
    "ADAPTERS",
    "BROKER",
    "CONSUMER",
    "DB",
    "LEASES",
    "METRICS",
    "PIPELINE",
    "RATE_LIMITER",
    "SETTINGS",
    "TRIAGER",
]
