"""What an orchestrator and a monitor ask a process: ``/livez``, ``/readyz`` and ``/metrics``.

* ``GET /livez``: the event loop answers and is not stalled: a heartbeat task ticks every second;
  if its last tick is older than :data:`STALL_LIMIT` seconds the loop is stuck (a blocking call,
  a runaway task) and the answer is 503, so that the orchestrator restarts the process.
* ``GET /readyz``: 503 while the store or the broker is down or the process is stopping, so
  that no new traffic is sent to it; 200 otherwise.
* ``GET /metrics``: Prometheus text (:mod:`gateway.metrics`; with the event loop's lag, sampled
  every 100 ms), only with ``metrics.token`` as a bearer token on the main port, or without a token
  on a port of its own (``metrics.port``, 127.0.0.1 by default); with neither configured it
  answers 404.

None of them needs a login or says anything about a person.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import logging
import os
import resource
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiohttp import web

from gateway.config import Settings
from gateway.metrics import CONTENT_TYPE, METRICS, Metrics
from gateway.tasks import cancel_and_wait

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0
STALL_LIMIT = 10.0
"""Seconds without a heartbeat after which /livez says the loop is stuck."""
CHECK_TIMEOUT = 2.0
LAG_SAMPLE_SECONDS = 0.1
"""How often the event loop's lag is sampled (``helpline_event_loop_lag_seconds`` in /metrics): a
timer due then and run late measures how long the loop was busy with something else.  (Every
50 ms cost 0.4 % of a core at rest on the shared 2-core machine; a long stall is caught either way.)"""
FILES_WARN_SHARE = 0.9
"""Open files at this share of the process's limit are said in the log (``files_near_limit``)."""
FILES_WARN_EVERY = 60.0
"""While the files stay near the limit, the warning is repeated this often (seconds)."""


@dataclass
class Liveness:
    last_tick: float = 0.0
    stopping: bool = False
    longest_lag: float = 0.0
    """The longest the heartbeat came late, seconds (the loop's longest stall seen)."""
    files_warned: float | None = None
    """When open files near the limit were last said in the log (loop time); None while below."""


def open_files() -> tuple[int, int] | None:
    """This process's open files and its soft limit, or None where /proc is not there."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    try:
        return len(os.listdir("/proc/self/fd")), soft
    except OSError as exc:
        # Listing them takes a file too: refused for want of one, the process is at its limit.
        return (soft, soft) if exc.errno in (errno.EMFILE, errno.ENFILE) else None


def watch_files(live: Liveness, now: float) -> None:
    """Say in the log when the process nears its limit of open files.  asyncio logs each accept it
    cannot make, but uvloop's libuv sheds those connections without a word (issue #18): this is
    what tells an operator on either loop why people cannot connect."""
    files = open_files()
    if files is None or files[1] <= 0 or files[0] < FILES_WARN_SHARE * files[1]:
        live.files_warned = None
        return
    if live.files_warned is not None and now - live.files_warned < FILES_WARN_EVERY:
        return
    live.files_warned = now
    log.warning(
        "files_near_limit: %d open files of the limit %d: new connections are refused or dropped;"
        " raise the limit (LimitNOFILE= in the systemd unit, ulimit -n) or look for a flood of connections",
        *files,
    )


LIVENESS = web.AppKey("liveness", Liveness)


async def heartbeat_ctx(app: web.Application) -> AsyncIterator[None]:
    live = app[LIVENESS]
    loop = asyncio.get_running_loop()
    live.last_tick = loop.time()

    async def beat() -> None:
        while True:
            before = loop.time()
            await asyncio.sleep(HEARTBEAT_SECONDS)
            now = loop.time()
            live.longest_lag = max(live.longest_lag, now - before - HEARTBEAT_SECONDS)
            live.last_tick = now
            watch_files(live, now)

    async def sample_lag() -> None:
        metrics = app[METRICS]
        while True:
            due = loop.time() + LAG_SAMPLE_SECONDS
            await asyncio.sleep(LAG_SAMPLE_SECONDS)
            metrics.lagged(max(0.0, loop.time() - due))

    task = asyncio.create_task(beat(), name="heartbeat")
    lag = asyncio.create_task(sample_lag(), name="event loop lag")
    yield
    await cancel_and_wait(lag)
    await cancel_and_wait(task)


async def livez(request: web.Request) -> web.Response:
    live = request.app[LIVENESS]
    age = asyncio.get_running_loop().time() - live.last_tick
    body = {"status": "ok" if age < STALL_LIMIT else "stalled", "heartbeat_age": round(age, 3)}
    return web.json_response(body, status=200 if age < STALL_LIMIT else 503)


async def readyz(request: web.Request) -> web.Response:
    from gateway.appkeys import BROKER, DB

    app = request.app
    if app[LIVENESS].stopping:
        return web.json_response({"status": "stopping"}, status=503)
    db, broker = app.get(DB), app.get(BROKER)
    if db is None or broker is None:
        return web.json_response({"status": "starting"}, status=503)
    parts: dict[str, str] = {}
    for name, check in (("store", db.health), ("broker", broker.health)):
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                parts[name] = str((await check()).get("state"))
        except TimeoutError:
            parts[name] = "down"
        if parts[name] != "ok":
            app[METRICS].error(name)
    ready = all(state == "ok" for state in parts.values())
    return web.json_response(
        {"status": "ready" if ready else "not_ready", **parts}, status=200 if ready else 503
    )


async def _metrics_body(app: web.Application) -> web.Response:
    from gateway.appkeys import DB

    metrics = app[METRICS]
    await metrics.refresh(app.get(DB))
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})


async def metrics_with_token(request: web.Request) -> web.Response:
    """/metrics on the main port: only with the configured bearer token; 404 without one."""
    from gateway.appkeys import SETTINGS

    token = str(request.app[SETTINGS].section("metrics")["token"])
    if not token:
        raise web.HTTPNotFound()
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return web.json_response(
            {"error": "not_authorised"}, status=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
        )
    return await _metrics_body(request.app)


def metrics_port_ctx(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context serving /metrics without a token on ``metrics.host:metrics.port``."""

    async def serve(app: web.Application) -> AsyncIterator[None]:
        cfg = settings.section("metrics")
        if not cfg["port"]:
            yield
            return
        side = web.Application()

        async def handler(request: web.Request) -> web.Response:
            return await _metrics_body(app)

        side.router.add_get("/metrics", handler)
        runner = web.AppRunner(side, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, cfg["host"], cfg["port"])
        await site.start()
        log.info("metrics on port %d", cfg["port"])
        yield
        with contextlib.suppress(Exception):
            await runner.cleanup()

    return serve


def setup(app: web.Application, settings: Settings) -> None:
    app[LIVENESS] = Liveness()
    if METRICS not in app:
        app[METRICS] = Metrics()

    async def stopping(app: web.Application) -> None:
        app[LIVENESS].stopping = True

    app.on_shutdown.insert(0, stopping)
    app.cleanup_ctx.extend([heartbeat_ctx, metrics_port_ctx(settings)])
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_with_token)
