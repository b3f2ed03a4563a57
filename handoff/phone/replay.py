"""``helpline phone replay FILE | --demo``: post a call's events to a gateway, signed as a phone
system signs them (docs/phone.md), for trying the phone channel by hand.

FILE holds a JSON list of events (or one event); an event without ``time`` gets the time it is
sent.  ``--demo`` posts ringing, answered (at ``--extension``) and ended of a new call, a few
seconds apart, from a number kept for fiction (070-174 06 05).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from gateway.envelope import utcnow
from handoff.referrals.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

EVENTS_PATH = "/channels/phone/events"
DEMO_NUMBER = "+46701740605"


def encode(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def signed_headers(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers of one event: its timestamp and the HMAC-SHA256 over ``"<timestamp>.<body>"``."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: sign(secret, ts, body),
    }


def demo_events(extension: str) -> list[dict[str, Any]]:
    call_id = f"demo-{secrets.token_hex(6)}"
    base = {"call_id": call_id, "line": "stodlinjen", "caller": DEMO_NUMBER}
    return [
        {**base, "event": "ringing"},
        {**base, "event": "answered", "extension": extension},
        {**base, "event": "ended"},
    ]


async def post_events(
    url: str, secret: str, events: Sequence[Mapping[str, Any]], *, delay: float = 0.0
) -> list[tuple[int, Any]]:
    """Post each event signed; the answers (status, JSON or text) in order."""
    answers: list[tuple[int, Any]] = []
    async with aiohttp.ClientSession() as http:
        for i, given in enumerate(events):
            if i and delay:
                await asyncio.sleep(delay)
            event = {"time": utcnow().isoformat(), **given}
            body = encode(event)
            async with http.post(
                url.rstrip("/") + EVENTS_PATH, data=body, headers=signed_headers(secret, body)
            ) as r:
                try:
                    answer: Any = await r.json(content_type=None)
                except ValueError:
                    answer = await r.text()
                answers.append((r.status, answer))
    return answers


def _load(path: str) -> list[dict[str, Any]]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    events = data if isinstance(data, list) else [data]
    if not all(isinstance(e, dict) for e in events):
        raise SystemExit(f"{path}: a JSON object or a list of objects")
    return events


def cmd_replay(args: argparse.Namespace) -> int:
    from gateway.config import load_settings

    settings = load_settings(getattr(args, "config", None))
    secret = args.secret or str(settings.section("phone")["events_secret"])
    if not secret:
        print("no secret: give --secret or set phone.events_secret (HELPLINE_PHONE_SECRET)")
        return 2
    server = settings.section("server")
    url = args.url or server["public_url"] or f"http://{server['host']}:{server['port']}"
    events = demo_events(args.extension) if args.demo else _load(args.file)
    answers = asyncio.run(post_events(url, secret, events, delay=args.delay))
    for event, (status, answer) in zip(events, answers, strict=True):
        print(
            f"{event.get('event')} {event.get('call_id')}: {status} {json.dumps(answer, ensure_ascii=False)}"
        )
    return 0 if all(status == 200 for status, _ in answers) else 1


def register(subparsers: Any) -> None:
    phone = subparsers.add_parser("phone", help="phone calls (docs/phone.md)")
    sub = phone.add_subparsers(dest="phone_command", required=True)
    replay = sub.add_parser("replay", help="post a call's events, signed, to try the phone channel")
    source = replay.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", help="JSON file: a list of events (docs/phone.md)")
    source.add_argument("--demo", action="store_true", help="ringing, answered, ended of a new call")
    replay.add_argument("--extension", default="201", help="the answering extension of --demo")
    replay.add_argument("--url", help="the gateway (default: server.public_url, else host and port)")
    replay.add_argument("--secret", help="the shared secret (default: phone.events_secret)")
    replay.add_argument("--delay", type=float, default=2.0, help="seconds between two events")
    replay.add_argument("--config", default=argparse.SUPPRESS)
    replay.set_defaults(func=cmd_replay)


__all__ = ["DEMO_NUMBER", "demo_events", "encode", "post_events", "register", "signed_headers"]
