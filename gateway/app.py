"""The aiohttp application: one factory, shared state under ``web.AppKey``, every resource in
``cleanup_ctx`` (store, broker, triage, pipeline, channels)."""

from __future__ import annotations

import importlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from sqlalchemy import MetaData

from gateway import __version__, auth, deadletter, probes, ratelimit
from gateway.appkeys import (
    ADAPTERS,
    BROKER,
    CONSUMER,
    DB,
    LEASES,
    PIPELINE,
    RATE_LIMITER,
    SETTINGS,
    TRIAGER,
)
from gateway.broker import Subscription, make_broker
from gateway.channel import ChannelAdapter, Ingress, IngressResult
from gateway.channels import build_adapters
from gateway.config import Settings
from gateway.crypto import ContactCipher
from gateway.envelope import Envelope
from gateway.errors import StoreUnavailable
from gateway.keys import check_keys
from gateway.lease import LeaseRunner, make_lease
from gateway.metrics import METRICS, Metrics
from gateway.outbox import Outbox
from gateway.pipeline import Pipeline
from gateway.services import AppChannelServices
from gateway.store.db import Database
from gateway.store.models import Base
from gateway.web_errors import error_middleware
from gateway.writes import PipelineLimits
from nlu.result import Triager

log = logging.getLogger(__name__)

# Parts of the application that add their routes and resources: module with setup(app).
EXTENSIONS = (
    "handoff.console",
    "handoff.triage_admin.web",
    "handoff.referrals.web",
    "handoff.disclosures.web",
    "handoff.directory.web",
    "handoff.records.web",
    "handoff.shift.web",
    "handoff.history.web",
    "handoff.staff.web",
    "handoff.phone.web",
    "handoff.training.web",
    "handoff.web",  # last: the OpenAPI document of every route the others added
)


# Channels: the module of each built-in channel (it registers its adapter, gateway.channel); only
# the enabled channels' modules are imported.  A channel defined elsewhere registers itself when its
# module is imported, before create_app.
CHANNEL_MODULES = {
    "memory": "bots.memory",
    "webchat": "bots.webchat.adapter",
    "telegram": "bots.telegram.adapter",
    "xmpp": "bots.xmpp.adapter",
    "email": "bots.email",
    "sms": "bots.sms.adapter",
}
# What a process runs when its configuration says nothing of them (``enabled: false`` stops one).
DEFAULT_CHANNELS = ("webchat",)

# Modules that declare tables of their own on gateway.store.models.Base (Alembic, tests).
MODEL_MODULES = (
    "handoff.referrals.models",
    "handoff.disclosures.models",
    "handoff.directory.models",
    "handoff.records.models",
    "handoff.triage_admin.models",
    "handoff.triage_admin.correction_models",
    "handoff.shift.models",
    "handoff.history.models",
    "handoff.phone.models",
    "handoff.training.models",
)


def all_metadata() -> MetaData:
    """The metadata of every table of the project (imports the modules that declare more)."""
    for module_name in MODEL_MODULES:
        importlib.import_module(module_name)
    return Base.metadata


def build_triager(settings: Settings) -> Triager:
    from nlu.triage import build_triager as build

    nlu = settings.section("nlu")
    return build(
        backend=nlu["backend"],
        rasa_url=nlu["rasa_url"] or None,
        model_path=nlu["model_path"] or None,
        timeout=nlu["rasa_timeout"],
    )


def create_app(
    settings: Settings,
    *,
    triager: Triager | None = None,
    adapters: list[ChannelAdapter] | None = None,
    migrate: bool = True,
) -> web.Application:
    """The gateway.  ``triager`` and ``adapters`` default to what the configuration says."""
    app = web.Application(client_max_size=1024**2, middlewares=[error_middleware])
    app[SETTINGS] = settings
    auth.configure_hashing(auth.HashCost.from_settings(settings))
    app[CONSUMER] = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    app[METRICS] = metrics = Metrics()

    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        pool = settings.section("database")
        db = Database(
            settings.database_url,
            pool_size=pool["pool_size"],
            max_overflow=pool["max_overflow"],
            transactions=pool["transactions"],
        )
        try:
            if migrate:
                await db.upgrade()
                # A process whose keys differ from the fleet's refuses to start (gateway.keys).
                await check_keys(db, settings)
            await db.fit_pool(pool["processes"])
        except BaseException:
            await db.close()
            raise
        app[DB] = db
        db.start_checkpoints()
        yield
        log.info("stopping: closing the store")
        await db.close()

    async def broker_ctx(app: web.Application) -> AsyncIterator[None]:
        broker = make_broker(
            settings.redis_url,
            prefix=settings.redis_prefix,
            reclaim_idle=settings.section("broker")["reclaim_idle"],
            consumer_name=app[CONSUMER],
        )
        await broker.start()
        app[BROKER] = broker
        yield
        log.info("stopping: closing the broker")
        await broker.close()

    async def ratelimit_ctx(app: web.Application) -> AsyncIterator[None]:
        # Redis when configured, so that the limits hold for the fleet, not per process.
        limiter = ratelimit.make_rate_limiter(
            settings.redis_url, prefix=settings.redis_prefix, pseudonym_key=settings.pseudonym_key
        )
        app[RATE_LIMITER] = limiter
        yield
        await limiter.close()

    async def triage_ctx(app: web.Application) -> AsyncIterator[None]:
        app[TRIAGER] = triager if triager is not None else build_triager(settings)
        yield
        close = getattr(app[TRIAGER], "close", None)
        if close is not None:
            await close()

    async def pipeline_ctx(app: web.Application) -> AsyncIterator[None]:
        limits = settings.section("limits")
        broker_cfg = settings.section("broker")
        outbox = Outbox(
            app[DB],
            app[BROKER],
            app[CONSUMER],
            grace=broker_cfg["outbox_grace"],
            pending_grace=broker_cfg["pending_grace"],
            metrics=metrics,
        )
        app[PIPELINE] = Pipeline(
            app[DB],
            app[BROKER],
            app[TRIAGER],
            ContactCipher(settings.contact_key, settings.previous_contact_keys),
            PipelineLimits(max_message_chars=limits["max_message_chars"]),
            event_channels=frozenset(a.name for a in app[ADAPTERS].values() if a.delivers_by_events),
            previous_pseudonym_keys=settings.previous_pseudonym_keys,
            outbox=outbox,
            metrics=metrics,
        )
        app[PIPELINE].egress.send_lease = broker_cfg["send_lease"]
        # One relay per process: this process's events at once, others' left behind by poll.
        outbox.start()
        yield
        await app[PIPELINE].controls.close()
        await outbox.close()

    async def channels_ctx(app: web.Application) -> AsyncIterator[None]:
        pipeline = app[PIPELINE]
        subs: list[Subscription] = []
        leases: dict[str, LeaseRunner] = {}
        services = AppChannelServices(app)
        for adapter in app[ADAPTERS].values():
            adapter.attach(services)
        for adapter in app[ADAPTERS].values():
            if adapter.needs_lease():
                leases[adapter.name] = _leased(app, adapter, pipeline)
                continue
            await adapter.start(channel_ingress(pipeline))
            subs.extend(await pipeline.egress.start(adapter, app[CONSUMER]))
        app[LEASES] = leases
        # Sockets of people (the web chat's) as their adapters report them in their health.
        metrics.count_sockets(
            "visitors", lambda: sum(int(a.health().get("sockets", 0)) for a in app[ADAPTERS].values())
        )
        for runner in leases.values():
            runner.start()
        yield
        log.info("stopping: channels (%s)", ", ".join(app[ADAPTERS].keys()) or "none")
        for runner in leases.values():
            await runner.close()
        for sub in subs:
            await sub.cancel()
        for adapter in app[ADAPTERS].values():
            if adapter.name not in leases:
                await adapter.stop()
        log.info("stopping: channels stopped")

    built = adapters if adapters is not None else build_adapters(settings, CHANNEL_MODULES, DEFAULT_CHANNELS)
    app[ADAPTERS] = {a.name: a for a in built}
    for adapter in built:
        app.router.add_routes(adapter.routes())

    async def going_away(app: web.Application) -> None:
        # First thing on a stop (SIGTERM): people's sockets close at once with 1001 "going away" and
        # resume on another process, instead of holding the stop up until the shutdown timeout.
        log.info("stopping: no new connections; closing open sockets")
        for adapter in app[ADAPTERS].values():
            count = await adapter.going_away()
            if count:
                log.info("stopping: %d %s socket(s) closed (1001 going away)", count, adapter.name)

    async def stopped(app: web.Application) -> None:
        log.info("stopped")

    app.on_shutdown.append(going_away)
    app.on_cleanup.append(stopped)
    app.cleanup_ctx.extend([store_ctx, broker_ctx, ratelimit_ctx, triage_ctx, pipeline_ctx, channels_ctx])
    app.router.add_get("/healthz", healthz)
    probes.setup(app, settings)
    for module_name in EXTENSIONS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.setup(app)
    return app


def channel_ingress(pipeline: Pipeline) -> Ingress:
    """``pipeline.ingress`` as the adapters get it: a raw connection error from the store's or the
    broker's driver (a database restarting) becomes the retryable StoreUnavailable, so that an
    adapter never mistakes it for its own server being down (gateway.netfail)."""

    async def ingress(envelope: Envelope, address: str) -> IngressResult:
        try:
            return await pipeline.ingress(envelope, address)
        except (OSError, TimeoutError) as exc:
            raise StoreUnavailable(f"store or broker connection failed ({type(exc).__name__})") from exc

    return ingress


def _leased(app: web.Application, adapter: ChannelAdapter, pipeline: Pipeline) -> LeaseRunner:
    """Run a channel's receiver (and, where only it can send, its egress) while holding its lease."""
    settings = app[SETTINGS]
    subs: list[Subscription] = []

    async def start() -> None:
        await adapter.start(channel_ingress(pipeline))
        subs.extend(await pipeline.egress.start(adapter, app[CONSUMER]))

    async def stop() -> None:
        for sub in subs:
            await sub.cancel()
        subs.clear()
        await adapter.stop()

    lease = make_lease(settings.redis_url, f"channel:{adapter.name}", prefix=settings.redis_prefix)
    return LeaseRunner(lease, start, stop)


async def healthz(request: web.Request) -> web.Response:
    """State of the store, the broker, the triage and every channel adapter."""
    app = request.app
    store = await app[DB].health()
    broker = await app[BROKER].health()
    channels: dict[str, Any] = {}
    leases = app.get(LEASES, {})
    for name, adapter in app[ADAPTERS].items():
        info = adapter.health()
        if name in leases:
            info["lease"] = "held" if leases[name].holding else "standby"
            if not leases[name].holding and info["state"] == "stopped":
                info["state"] = "standby"
        channels[name] = info
    nlu = app[TRIAGER].health()
    if store.get("state") == "ok":
        try:
            store["dead_letters"] = await deadletter.count(app[DB])
        except Exception as exc:  # the store went away between the two questions
            store = {"state": "down", "kind": store.get("kind"), "error": type(exc).__name__}
    ok = store.get("state") == "ok" and broker.get("state") == "ok"
    degraded = any(
        c.get("state") in ("transient_error", "bad_credentials")
        or (c.get("state") == "connecting" and c.get("error"))
        or c.get("smtp_error")  # e-mail: mail is read, but replies do not go out
        for c in channels.values()
    ) or (nlu.get("state") not in (None, "ok"))
    status = "down" if not ok else ("degraded" if degraded else "ok")
    body = {
        "status": status,
        "version": __version__,
        "store": store,
        "broker": broker,
        "nlu": nlu,
        "channels": channels,
    }
    return web.json_response(body, status=200 if ok else 503)
