"""Two real gateway processes sharing one PostgreSQL and one Redis."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.config import new_key


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _post(url: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture
def fleet(pg_url: str, redis_url: str, redis_prefix: str, tmp_path: Path) -> Iterator[list[str]]:
    config = tmp_path / "fleet.yml"
    config.write_text(
        "channels:\n  memory:\n    enabled: true\n    http: true\n  webchat:\n    enabled: false\n"
        "broker:\n  reclaim_idle: 1.0\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    env.update(
        HELPLINE_DATABASE_URL=pg_url,
        HELPLINE_REDIS_URL=redis_url,
        HELPLINE_REDIS_PREFIX=redis_prefix,
        HELPLINE_PSEUDONYM_KEY=new_key(),
        HELPLINE_CONTACT_KEY=new_key(),
        HELPLINE_DATA_DIR=str(tmp_path / "data"),
    )
    subprocess.run(
        [sys.executable, "-m", "gateway.cli", "db", "upgrade"], env=env, check=True, capture_output=True
    )
    procs, urls = [], []
    for _ in range(2):
        port = _port()
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "--config", str(config), "serve", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if _get(f"{url}/healthz")["status"] in ("ok", "degraded"):
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{url} did not come up")
                time.sleep(0.3)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


def test_two_processes_share_conversations_and_deliver_each_message_once(fleet: list[str]) -> None:
    a, b = fleet
    health = _get(f"{a}/healthz")
    assert health["store"]["kind"] == "postgresql" and health["broker"]["kind"] == "redis"

    first = _post(f"{a}/channels/memory/in", {"address": "person-1", "text": "jag är orolig för min bror"})
    second = _post(
        f"{b}/channels/memory/in", {"address": "person-1", "text": "han har börjat umgås med nazister"}
    )
    # The second process continues the conversation the first one opened.
    assert second["conversation_id"] == first["conversation_id"]
    assert second["state"] == "queued"

    # Each safe response is delivered exactly once across the fleet (whichever process consumed it).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        got = _get(f"{a}/channels/memory/out?address=person-1") + _get(
            f"{b}/channels/memory/out?address=person-1"
        )
        messages = [g for g in got if g["kind"] == "message"]
        if messages:
            break
        time.sleep(0.2)
    time.sleep(1.5)
    got = _get(f"{a}/channels/memory/out?address=person-1") + _get(
        f"{b}/channels/memory/out?address=person-1"
    )
    ids = [g["message_id"] for g in got if g["kind"] == "message"]
    assert len(ids) >= 1 and len(ids) == len(set(ids))

    # A duplicate delivery of the same channel message to the other process is recognised.
    dup1 = _post(f"{a}/channels/memory/in", {"address": "p2", "text": "orolig", "external_id": "x-1"})
    dup2 = _post(f"{b}/channels/memory/in", {"address": "p2", "text": "orolig", "external_id": "x-1"})
    assert dup2["duplicate"] is True and dup2["message_id"] == dup1["message_id"]
