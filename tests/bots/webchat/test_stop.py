"""A real ``helpline serve`` stopped with SIGTERM while web chat and console sockets are open."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.config import new_key

PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf" value="([^"]+)"')


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path


def _env(tmp_path: Path, db_url: str, keys: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    env.update(
        HELPLINE_DATABASE_URL=db_url,
        HELPLINE_PSEUDONYM_KEY=keys["pseudonym"],
        HELPLINE_CONTACT_KEY=keys["contact"],
        HELPLINE_DATA_DIR=str(tmp_path / "data"),
    )
    return env


async def _serve(tmp_path: Path, env: dict[str, str], name: str) -> Served:
    config = tmp_path / "stop.yml"
    # Plain http to the console: development mode (cookies without Secure).
    config.write_text(
        "development: true\nconsole:\n  secure_cookies: false\nchannels:\n  webchat:\n    enabled: true\n"
    )
    port = _port()
    log = tmp_path / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "--config", str(config), "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"{url}/healthz") as resp:
                    if (await resp.json())["status"] in ("ok", "degraded"):
                        return Served(proc, url, log)
            except (OSError, aiohttp.ClientError, ValueError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the gateway did not come up: {log.read_text()[-2000:]}")
            await asyncio.sleep(0.3)


@pytest.fixture
async def served(tmp_path: Path, pg_url: str) -> AsyncIterator[tuple[Served, dict[str, str]]]:
    env = _env(tmp_path, pg_url, {"pseudonym": new_key(), "contact": new_key()})
    subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "users",
            "add",
            "anna",
            "--role",
            "counsellor",
            "--password-stdin",
        ],
        env=env,
        input=PASSWORD.encode() + b"\n",
        check=True,
        capture_output=True,
    )
    gw = await _serve(tmp_path, env, "first")
    try:
        yield gw, env
    finally:
        if gw.proc.poll() is None:
            gw.proc.kill()
            gw.proc.wait()


async def _frame(ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 20.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            assert msg.type is aiohttp.WSMsgType.TEXT, msg
            data: dict[str, Any] = json.loads(msg.data)
            if data.get("type") == kind:
                return data


async def _closed(ws: aiohttp.ClientWebSocketResponse) -> float:
    """Read until the server closes; the time it took."""
    started = time.monotonic()
    async with asyncio.timeout(10):
        while True:
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                return time.monotonic() - started


async def test_sigterm_closes_sockets_with_going_away_stops_fast_and_logs_each_step(
    served: tuple[Served, dict[str, str]], tmp_path: Path
) -> None:
    gw, env = served
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        # A counsellor's console socket.
        async with http.get(f"{gw.url}/console/login") as page:
            token = CSRF_INPUT.search(await page.text())
        assert token
        async with http.post(
            f"{gw.url}/console/login",
            data={"username": "anna", "password": PASSWORD, "csrf": token.group(1)},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 303
        console = await http.ws_connect(f"{gw.url}/console/ws", headers={"Origin": gw.url})
        await _frame(console, "queue")
        # A visitor who wrote one message (acknowledged, seq 1).
        chat = await http.ws_connect(f"{gw.url}/chat/ws")
        await chat.send_json({"type": "hello", "lang": "sv", "resume": None})
        await _frame(chat, "welcome")
        await chat.send_json(
            {"type": "message", "client_id": "first-message-1", "text": "hej, jag är orolig"}
        )
        welcome = await _frame(chat, "welcome")  # again, now that the conversation exists
        ack = await _frame(chat, "ack")
        conv, resume_token = welcome["conversation_id"], welcome["token"]
        assert ack["seq"] == 1 and conv

        started = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        chat_took, console_took = await asyncio.gather(_closed(chat), _closed(console))
        # Both sockets see "going away" at once, not an abnormal 1006 after a long silence.
        assert chat.close_code == 1001 and console.close_code == 1001
        assert chat_took < 2.0 and console_took < 2.0
        await asyncio.to_thread(gw.proc.wait, 10)
        assert time.monotonic() - started < 6.0, "the process stops within a few seconds"

    log = gw.log.read_text()
    for step in (
        "stopping: no new connections; closing open sockets",
        "stopping: 1 webchat socket(s) closed (1001 going away)",
        "stopping: 1 console socket(s) closed (1001 going away)",
        "stopping: channels (webchat)",
        "stopping: channels stopped",
        "stopping: closing the broker",
        "stopping: closing the store",
        "stopped",
    ):
        assert f"INFO gateway.app: {step}" in log or f": {step}" in log, step

    # The page resumes elsewhere (here: the next process) by seq: its conversation, nothing twice.
    other = await _serve(tmp_path, env, "second")
    try:
        async with aiohttp.ClientSession() as http:
            chat = await http.ws_connect(f"{other.url}/chat/ws")
            await chat.send_json(
                {
                    "type": "hello",
                    "lang": "sv",
                    "resume": {"conversation_id": conv, "token": resume_token, "last_seq": 1},
                }
            )
            again = await _frame(chat, "welcome")
            assert again["conversation_id"] == conv
            bot = await _frame(chat, "message")
            assert bot["seq"] == 2 and bot["kind"] == "bot", (
                "the bot's answer after seq 1, the message not again"
            )
            await chat.close()
    finally:
        other.proc.terminate()
        await asyncio.to_thread(other.proc.wait, 10)
