"""The load generator, a process of its own that speaks only HTTP and websockets to the gateway.

    python -m bench.deployed.load --urls http://127.0.0.1:8080 --visitors 200 --counsellors 20 ...

It talks to the runner (``bench.deployed.run``) over stdin/stdout so that the runner can read the
servers' CPU exactly at the edges of the measured window: it prints ``READY`` when every socket
is open and every counsellor signed in, starts the load on ``GO``, prints ``MEASURE`` after the
warm-up and ``END`` after the measured window, and last a line ``RESULT {json}``.

``--idle K`` instead opens K web chat sockets that say hello and then nothing, prints ``READY``,
and closes them on ``GO``: the runner reads the servers' memory in between.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import sys
import time
from typing import Any

import aiohttp

from .console import Console
from .stats import Stats, now, pct
from .visitor import CRITICAL_TEXT, Pace, Visitor


def say(line: str) -> None:
    print(line, flush=True)


async def ask() -> str:
    line: str = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return line.strip()


async def guarded(stats: Stats, what: str, coro: Any) -> None:
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if not stats.stopping:
            stats.error(f"{what} failed", repr(exc))


async def run_load(args: argparse.Namespace) -> dict[str, Any]:
    stats = Stats()
    urls = args.urls.split(",")
    owner: dict[str, int] = {}  # conversation id -> the counsellor who claims it
    pace = Pace(
        interval=args.visitors / args.rate if args.rate else 0.0,
        think=args.think,
        typing=not args.no_typing,
        messages=args.messages,
        timeout=args.timeout,
    )
    connector = aiohttp.TCPConnector(limit=0)
    gate = asyncio.Semaphore(50)  # keeps the listen backlog from overflowing while sockets open
    async with aiohttp.ClientSession(connector=connector) as session:
        consoles = [
            Console(
                i,
                urls[i % len(urls)],
                name,
                args.password,
                args.console,
                args.think,
                not args.no_typing,
                args.messages,
                stats,
                owner,
            )
            for i, name in enumerate(args.usernames.split(","))
        ]
        for c in consoles:
            async with gate:
                await c.login()
                await c.start()

        def owned_by(i: int) -> Any:
            return lambda conv: owner.__setitem__(conv, i % len(consoles))

        visitors = [Visitor(i, urls[i % len(urls)], pace, stats, owned_by(i)) for i in range(args.visitors)]
        alerts: list[tuple[Visitor, list[float]]] = []
        for i in range(args.alerts):
            alerts.append((Visitor(-1 - i, urls[i % len(urls)], pace, stats, lambda conv: None), []))

        async def connect(v: Visitor) -> None:
            async with gate:
                await v.connect(session)

        await asyncio.gather(*(connect(v) for v in visitors), *(connect(v) for v, _ in alerts))
        say("READY")
        if await ask() != "GO":
            raise SystemExit("the runner did not say GO")
        t_go = now()
        # No cyclic collection while it measures: its full collections held this process 33-58 ms
        # every few seconds (200 visitors' and 20 consoles' objects), and every reply that came in
        # meanwhile was timed late, as if the gateway had been slow.  What the load leaves for the
        # collector in a run is a few hundred objects a second.
        gc.freeze()
        gc.disable()
        tasks = [asyncio.create_task(guarded(stats, "visitor", v.run(session))) for v in visitors]
        await asyncio.sleep(args.warmup)
        stats.measuring = True
        cpu0, t0 = time.process_time(), now()
        say("MEASURE")

        async def alert(v: Visitor, sent: list[float], at: float) -> None:
            await asyncio.sleep(max(0.0, t0 + at - now()))
            sent.append(await v.write(CRITICAL_TEXT))

        alert_tasks = [
            asyncio.create_task(
                guarded(stats, "alert visitor", alert(v, sent, (k + 0.5) * args.duration / len(alerts)))
            )
            for k, (v, sent) in enumerate(alerts)
        ]
        await asyncio.sleep(max(0.0, t0 + args.duration - now()))
        stats.measuring = False
        elapsed, cpu1 = now() - t0, time.process_time()
        say("END")
        gc.enable()
        await asyncio.sleep(min(args.timeout, 5.0))  # the last alerts' way to every console
        stats.stopping = True
        for t in tasks + alert_tasks:
            t.cancel()
        await asyncio.gather(*tasks, *alert_tasks, return_exceptions=True)
        for v in visitors + [v for v, _ in alerts]:
            await v.close()
        for c in consoles:
            await c.stop()
    alert_ms: list[float] = []
    missed = 0
    for v, sent in alerts:
        if not sent:
            continue
        seen = stats.alerts_seen.get(v.conv or "", {})
        missed += len(consoles) - len(seen)
        alert_ms += [(t - sent[0]) * 1000 for t in seen.values()]
    ms = [x * 1000 for x in stats.latencies]
    # The counsellor types for --think seconds once the message shows (the page's typing signals
    # meanwhile): that time is the person's, not the gateway's, and the aims speak of the gateway's.
    net = [x - args.think * 1000 for x in ms]
    first = [x * 1000 for x in stats.first_answers]
    rts = stats.round_trips
    return {
        "duration_s": round(elapsed, 2),
        "warmup_s": round(t0 - t_go, 2),
        "round_trips": rts,
        "round_trips_per_s": round(rts / elapsed, 1),
        "offered_per_s": args.rate or None,
        "lat_ms": {p: _r(pct(ms, p)) for p in (50, 95, 99)},
        "lat_samples": len(ms),
        "lat_net_ms": {p: _r(pct(net, p)) for p in (50, 95, 99)} if args.think else None,
        "first_answer_ms": {p: _r(pct(first, p)) for p in (50, 95, 99)},
        "first_answer_samples": len(first),
        "alert_ms": {p: _r(pct(alert_ms, p)) for p in (50, 99)},
        "alert_max_ms": _r(max(alert_ms, default=None)),
        "alerts_sent": sum(1 for _, s in alerts if s),
        "alert_deliveries": len(alert_ms),
        "alert_deliveries_missed": missed,
        "requests": dict(stats.requests),
        "requests_per_round_trip": round(sum(stats.requests.values()) / rts, 2) if rts else None,
        "frames_out": dict(stats.frames_out),
        "console_frames": dict(stats.console_frames),
        "console_frames_out": dict(stats.console_frames_out),
        "stages_ms": {
            k: {p: _r(1000 * (pct(v, p) or 0)) for p in (50, 99)} for k, v in sorted(stats.stages.items())
        },
        "errors": dict(stats.errors),
        "first_errors": stats.first_errors,
        "loadgen_cpu_pct": round(100 * (cpu1 - cpu0) / elapsed, 1),
    }


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


async def run_idle(args: argparse.Namespace) -> dict[str, Any]:
    """K sockets that say hello and wait, as open chat pages where nobody writes."""
    urls = args.urls.split(",")
    stats = Stats()
    pace = Pace(0.0, 0.0, False, 1, args.timeout)
    gate = asyncio.Semaphore(100)
    failed = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        visitors = [Visitor(i, urls[i % len(urls)], pace, stats, lambda conv: None) for i in range(args.idle)]

        async def connect(v: Visitor) -> None:
            nonlocal failed
            async with gate:
                try:
                    await v.connect(session)
                except Exception as exc:
                    failed += 1
                    stats.error("idle socket failed", repr(exc))

        await asyncio.gather(*(connect(v) for v in visitors))
        say("READY")
        await ask()
        await asyncio.gather(*(v.close() for v in visitors))
    return {
        "idle_open": args.idle - failed,
        "idle_failed": failed,
        "errors": dict(stats.errors),
        "first_errors": stats.first_errors,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description="load generator of bench.deployed (one process)")
    ap.add_argument("--urls", required=True, help="comma-separated base URLs of the gateway processes")
    ap.add_argument("--usernames", default="", help="comma-separated counsellor accounts")
    ap.add_argument("--password", default="")
    ap.add_argument("--visitors", type=int, default=200)
    ap.add_argument("--console", choices=("page", "claim"), default="page")
    ap.add_argument("--rate", type=float, default=0.0, help="round trips/s offered (0: closed loop)")
    ap.add_argument("--think", type=float, default=0.0, help="seconds a person or counsellor types")
    ap.add_argument("--no-typing", action="store_true")
    ap.add_argument("--messages", type=int, default=5, help="messages per conversation")
    ap.add_argument("--alerts", type=int, default=5)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--idle", type=int, default=0)
    args = ap.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    result = asyncio.run(run_idle(args) if args.idle else run_load(args))
    say("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
