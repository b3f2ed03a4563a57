"""Relay benchmark: visitor -> counsellor -> visitor, through the whole gateway and a bare relay.

Each of ``--conversations`` visitors holds a websocket and sends ``--messages`` messages one after
the other; a counsellor answers every one, and the visitor waits for the answer before the next.

* gateway: the visitor talks to ``/chat/ws`` of a real gateway (store, broker, pipeline, web chat
  adapter) served on a local port; the counsellors are in-process: each conversation is claimed
  through ``Pipeline.claim`` and every incoming message is answered with ``Pipeline.reply`` as soon
  as its fan-out event arrives (what the console does on a counsellor's click);
* bare: a minimal aiohttp websocket relay written here: the visitor's message goes to a counsellor's
  websocket, the counsellor client echoes an answer, the relay hands it back to the visitor.

Both run in the same process and event loop, one after the other, with the same load.  Prints round
trips per second, round-trip latency percentiles and the gateway/bare ratio.

    python bench/relay.py                                   # SQLite + in-process broker
    python bench/relay.py --database-url postgresql://... --redis-url redis://127.0.0.1:6379/0
    python bench/relay.py --pace 2                          # each person writes every 2 s

Closed loop (the default) measures throughput; each conversation writes again as soon as its answer
came, so with 500 conversations latency is 500 / throughput by Little's law.  Paced (``--pace``)
measures latency at an offered load, as people write: 500 conversations writing every 2 s offer
250 round trips per second.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where a sibling (bench/email.py)
# would shadow the standard library; the project root is wanted instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from bots.webchat.adapter import WebchatAdapter  # noqa: E402
from gateway.app import DB, PIPELINE, create_app  # noqa: E402
from gateway.appkeys import BROKER  # noqa: E402
from gateway.auth import create_user  # noqa: E402
from gateway.broker.base import Event  # noqa: E402
from gateway.config import load_settings  # noqa: E402
from gateway.errors import StoreUnavailable  # noqa: E402
from gateway.events import TOPIC_CONVERSATION  # noqa: E402
from gateway.store.models import StaffUser  # noqa: E402
from nlu.result import INTENT_PRIORITY, TriageResult  # noqa: E402

PASSWORD = "correct horse battery staple"
CAPACITY = 100


class BenchTriager:
    """Deterministic and instant, so that the benchmark measures the relay, not the model."""

    async def parse(self, text: str, language_hint: str | None = None) -> TriageResult:
        return TriageResult(
            text=text,
            intent="concern_relative",
            confidence=0.9,
            language=language_hint or "sv",
            priority=INTENT_PRIORITY["concern_relative"],
            safe_response="Tack, en samtalsstödjare läser ditt meddelande.",
            intent_ranking=(("concern_relative", 0.9),),
            backend="bench",
        )

    def health(self) -> dict[str, Any]:
        return {"state": "ok", "backend": "bench"}


@dataclass
class Result:
    name: str
    round_trips: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    note: str = ""

    @property
    def rate(self) -> float:
        return self.round_trips / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def line(self) -> str:
        mean = statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")
        return (
            f"{self.name:8s} {self.round_trips:7d} round trips in {self.seconds:6.2f} s = {self.rate:8.1f}/s  "
            f"latency ms p50 {self.pct(50):7.2f}  p90 {self.pct(90):7.2f}  p99 {self.pct(99):7.2f}  "
            f"mean {mean:7.2f}  errors {self.errors}{self.note}"
        )


async def run_visitors(
    n: int,
    warm_up: Callable[[int], Awaitable[Any]],
    round_trip: Callable[[Any, int], Awaitable[None]],
    name: str,
) -> Result:
    """Warm every visitor up (connect, first message, claim), then time the round trips together."""
    result = Result(name)
    ready = 0
    all_ready = asyncio.Event()
    finished: list[float] = []

    async def one(i: int) -> None:
        nonlocal ready
        try:
            state = await warm_up(i)
        except Exception as exc:
            state = None
            result.errors += 1
            print(f"  {name} visitor {i} warm-up: {type(exc).__name__}: {exc}", file=sys.stderr)
        ready += 1
        if ready == n:
            all_ready.set()
        await all_ready.wait()
        if state is None:
            return
        try:
            # Paced (--pace): each person writes every PACE seconds, starting at a random moment,
            # as people do; otherwise each writes again as soon as the answer came (closed loop).
            next_at = time.perf_counter() + (random.uniform(0, ARGS.pace) if ARGS.pace else 0.0)
            for j in range(ARGS.messages):
                if ARGS.pace:
                    await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                    next_at += ARGS.pace
                t0 = time.perf_counter()
                await round_trip(state, j)
                result.latencies.append(time.perf_counter() - t0)
                result.round_trips += 1
        except Exception as exc:
            result.errors += 1
            print(f"  {name} visitor {i}: {type(exc).__name__}: {exc}", file=sys.stderr)
        finished.append(time.perf_counter())

    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    await all_ready.wait()
    start = time.perf_counter()
    await asyncio.gather(*tasks)
    result.seconds = (max(finished) if finished else time.perf_counter()) - start
    return result


async def receive_json(ws: aiohttp.ClientWebSocketResponse, timeout: float) -> dict[str, Any]:
    msg = await ws.receive(timeout=timeout)
    if msg.type != aiohttp.WSMsgType.TEXT:
        raise ConnectionError(f"socket ended ({msg.type.name})")
    data: dict[str, Any] = json.loads(msg.data)
    return data


# ---------------------------------------------------------------------------------------- gateway
async def bench_gateway(session: aiohttp.ClientSession, workdir: Path) -> Result:
    overrides: dict[str, Any] = {
        "data_dir": str(workdir / "data"),
        "channels": {"webchat": {"enabled": False}},
        "redis_prefix": f"bench{uuid.uuid4().hex[:8]}:",
    }
    if ARGS.database_url:
        overrides["database_url"] = ARGS.database_url
    else:
        overrides["database_url"] = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    if ARGS.redis_url:
        overrides["redis_url"] = ARGS.redis_url
    settings = load_settings(environ={}, overrides=overrides)
    adapter = WebchatAdapter(
        {"messages_per_minute": 1_000_000, "max_message_chars": 4000}, pseudonym_key=settings.pseudonym_key
    )
    app = create_app(settings, triager=BenchTriager(), adapters=[adapter])
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}/chat/ws"
    gc.freeze()  # as `helpline serve` does once started
    pipeline = app[PIPELINE]
    stats = {"reply_retries": 0, "resends": 0}

    run = uuid.uuid4().hex[:6]
    users: list[StaffUser] = []
    async with app[DB].session() as db:
        for k in range(ARGS.conversations // CAPACITY + 1):
            users.append(await create_user(db, f"bench-{run}-{k}", PASSWORD, "counsellor", capacity=CAPACITY))
    assigned: dict[str, StaffUser] = {}
    replies: set[asyncio.Task[Any]] = set()

    async def counsellor(event: Event) -> None:
        payload = event.payload
        if payload.get("kind") != "message":
            return
        msg = payload.get("message") or {}
        user = assigned.get(str(msg.get("conversation_id")))
        if user is None or msg.get("direction") != "in" or not str(msg.get("text", "")).startswith("m"):
            return
        task = asyncio.create_task(answer(msg["conversation_id"], "re:" + msg["text"], user))
        replies.add(task)
        task.add_done_callback(replies.discard)

    async def answer(conv: str, text: str, user: StaffUser) -> None:
        for attempt in range(5):  # a counsellor whose reply failed presses "send" again
            try:
                await pipeline.staff.reply(conv, text, user)
                return
            except StoreUnavailable:
                stats["reply_retries"] += 1
                await asyncio.sleep(0.05 * (attempt + 1))

    subscription = await app[BROKER].fanout(TOPIC_CONVERSATION, counsellor)

    async def warm_up(i: int) -> aiohttp.ClientWebSocketResponse:
        ws = await session.ws_connect(url, max_msg_size=0)
        await ws.send_json({"type": "hello", "lang": "sv", "resume": None})
        first = {"type": "message", "client_id": f"warm-{i:06d}", "text": "jag oroar mig för min son"}
        await ws.send_json(first)
        conv = None
        while conv is None:
            frame = await receive_json(ws, 30)
            if frame["type"] == "welcome" and frame["conversation_id"]:
                conv = frame["conversation_id"]
            elif frame["type"] == "error" and frame["code"] == "unavailable":
                await asyncio.sleep(0.1)
                await ws.send_json(first)
        user = users[i % len(users)]
        for attempt in range(10):
            try:
                await pipeline.staff.claim(conv, user)
                break
            except StoreUnavailable:
                await asyncio.sleep(0.05 * (attempt + 1))
        assigned[conv] = user
        return ws

    async def round_trip(ws: aiohttp.ClientWebSocketResponse, j: int) -> None:
        text = f"m{j}-{uuid.uuid4().hex[:6]}"
        message = {"type": "message", "client_id": uuid.uuid4().hex, "text": text}
        await ws.send_json(message)
        while True:
            frame = await receive_json(ws, 30)
            if frame["type"] == "message" and frame["kind"] == "counsellor" and frame["text"] == "re:" + text:
                return
            if frame["type"] == "error" and frame["code"] == "unavailable":
                stats["resends"] += 1  # what the page does: send the same client_id again
                await asyncio.sleep(0.1)
                await ws.send_json(message)
            elif frame["type"] == "error":
                raise RuntimeError(frame["code"])

    try:
        visitors: list[aiohttp.ClientWebSocketResponse] = []

        async def keep(i: int) -> aiohttp.ClientWebSocketResponse:
            ws = await warm_up(i)
            visitors.append(ws)
            return ws

        result = await run_visitors(ARGS.conversations, keep, round_trip, "gateway")
        batched = pipeline._incoming, pipeline.staff._replies
        per_txn = sum(b.items for b in batched) / max(1, sum(b.batches for b in batched))
        result.note = (
            f"  (store busy: {stats['reply_retries']} replies retried, {stats['resends']} messages re-sent;"
            f" {per_txn:.1f} messages per transaction)"
        )
        for ws in visitors:
            await ws.close()
    finally:
        await subscription.cancel()
        for task in list(replies):
            task.cancel()
        await runner.cleanup()
        if ARGS.redis_url:
            await drop_redis_keys(ARGS.redis_url, overrides["redis_prefix"])
    return result


async def drop_redis_keys(url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


# ---------------------------------------------------------------------------------------- bare relay
async def bench_bare(session: aiohttp.ClientSession) -> Result:
    visitors: dict[str, web.WebSocketResponse] = {}
    counsellors: list[web.WebSocketResponse] = []
    counsellor_joined = asyncio.Event()
    n_counsellors = ARGS.conversations // CAPACITY + 1

    async def visitor_ws(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conv = request.query["c"]
        visitors[conv] = ws
        async for msg in ws:
            data = json.loads(msg.data)
            target = counsellors[int(conv) % len(counsellors)]
            await target.send_str(json.dumps({"conversation_id": conv, "text": data["text"]}))
        visitors.pop(conv, None)
        return ws

    async def counsellor_ws(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        counsellors.append(ws)
        if len(counsellors) == n_counsellors:
            counsellor_joined.set()
        async for msg in ws:
            data = json.loads(msg.data)
            target = visitors.get(data["conversation_id"])
            if target is not None:
                await target.send_str(
                    json.dumps({"type": "message", "kind": "counsellor", "text": data["text"]})
                )
        return ws

    app = web.Application()
    app.router.add_get("/v", visitor_ws)
    app.router.add_get("/c", counsellor_ws)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def counsellor_client() -> None:
        ws = await session.ws_connect(f"{base}/c")
        async for msg in ws:
            data = json.loads(msg.data)
            await ws.send_str(
                json.dumps({"conversation_id": data["conversation_id"], "text": "re:" + data["text"]})
            )

    clients = [asyncio.create_task(counsellor_client()) for _ in range(n_counsellors)]
    await counsellor_joined.wait()
    sockets: list[aiohttp.ClientWebSocketResponse] = []

    async def warm_up(i: int) -> aiohttp.ClientWebSocketResponse:
        ws = await session.ws_connect(f"{base}/v?c={i}")
        sockets.append(ws)
        return ws

    async def round_trip(ws: aiohttp.ClientWebSocketResponse, j: int) -> None:
        text = f"m{j}-{uuid.uuid4().hex[:6]}"
        await ws.send_json({"type": "message", "client_id": uuid.uuid4().hex, "text": text})
        while True:
            frame = await receive_json(ws, 30)
            if frame["type"] == "message" and frame["text"] == "re:" + text:
                return

    try:
        result = await run_visitors(ARGS.conversations, warm_up, round_trip, "bare")
    finally:
        for ws in sockets:
            await ws.close()
        for task in clients:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await runner.cleanup()
    return result


# ---------------------------------------------------------------------------------------- main
async def main() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    backend = ("PostgreSQL" if ARGS.database_url else "SQLite") + (" + Redis" if ARGS.redis_url else "")
    print(
        f"{ARGS.conversations} concurrent conversations x {ARGS.messages} round trips; gateway on {backend}",
        flush=True,
    )
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        with tempfile.TemporaryDirectory(prefix="helpline-bench-") as tmp:
            gateway = await asyncio.wait_for(bench_gateway(session, Path(tmp)), ARGS.timeout)
        print(gateway.line(), flush=True)
        bare = await asyncio.wait_for(bench_bare(session), ARGS.timeout)
        print(bare.line(), flush=True)
    if ARGS.pace:
        offered = ARGS.conversations / ARGS.pace
        print(
            f"paced: each conversation writes every {ARGS.pace:g} s (offered {offered:.0f} round trips/s); "
            f"gateway p99 {gateway.pct(99):.1f} ms (aim: < 50 ms)"
        )
        return
    ratio = gateway.rate / bare.rate if bare.rate else float("nan")
    print(f"ratio gateway/bare throughput: {ratio:.2f}  (aim: >= 0.5; gateway p99 aim: < 50 ms)")
    # Little's law: with N conversations each waiting for its answer before writing again,
    # latency is at least N / throughput, whatever the relay does.
    print(
        f"closed loop: {ARGS.conversations} conversations at {gateway.rate:.0f}/s cannot wait less than "
        f"{ARGS.conversations / gateway.rate * 1000 if gateway.rate else float('nan'):.0f} ms on average"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--messages", type=int, default=10, help="round trips per conversation")
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument("--redis-url", default="", help="default: the in-process broker")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per half of the run")
    parser.add_argument(
        "--pace",
        type=float,
        default=0.0,
        help="seconds between one conversation's messages (0: closed loop, as fast as answers come)",
    )
    return parser.parse_args(argv)


ARGS = parse_args([])

if __name__ == "__main__":
    ARGS = parse_args()
    asyncio.run(main())
