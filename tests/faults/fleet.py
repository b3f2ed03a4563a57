"""Two real ``helpline serve`` processes on a private PostgreSQL and a private Redis, with the web
chat and Telegram (polling, under the fleet's lease, against the Bot API stand-in of
``tests/bots/telegram``) enabled, each writing its stdout and stderr to a log file of its own.

A process may be killed (SIGKILL) and started again on the same port; every start appends to the
same log, so the privacy check reads everything a process ever wrote.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    tag: str
    port: int
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclass
class Fleet:
    env: dict[str, str]
    config: Path
    procs: list[Proc]
    http: aiohttp.ClientSession
    events: list[tuple[float, str]] = field(default_factory=list)

    def note(self, what: str) -> None:
        self.events.append((time.monotonic(), what))

    def start(self, proc: Proc) -> None:
        with proc.log.open("ab") as out:
            proc.popen = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gateway.cli",
                    "--config",
                    str(self.config),
                    "serve",
                    "--port",
                    str(proc.port),
                ],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        proc.starts += 1
        self.note(f"start {proc.tag}")

    def kill(self, proc: Proc) -> None:
        """SIGKILL: no shutdown handler runs, sockets are cut, pending work is left behind."""
        assert proc.popen is not None
        os.kill(proc.popen.pid, signal.SIGKILL)
        proc.popen.wait(timeout=10)
        self.note(f"kill -9 {proc.tag}")

    async def health(self, proc: Proc) -> dict[str, Any] | None:
        try:
            async with self.http.get(f"{proc.url}/healthz", timeout=aiohttp.ClientTimeout(total=5)) as resp:
                return await resp.json()  # type: ignore[no-any-return]
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
            return None

    async def wait_up(self, proc: Proc, timeout: float = 90.0, *, broker: bool = True) -> None:
        """Until the process answers /healthz with its store (and broker) up."""
        deadline = time.monotonic() + timeout
        while True:
            assert proc.alive, f"{proc.tag} died: {proc.log.read_text(errors='replace')[-3000:]}"
            health = await self.health(proc)
            if health is not None and health.get("store", {}).get("state") == "ok":
                if not broker or health.get("broker", {}).get("state") == "ok":
                    return
            assert time.monotonic() < deadline, f"{proc.tag} not up: {health}"
            await asyncio.sleep(0.3)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.alive:
                assert proc.popen is not None
                proc.popen.terminate()
        for proc in self.procs:
            if proc.popen is not None:
                try:
                    proc.popen.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.popen.kill()
                    proc.popen.wait(timeout=5)

    def logs(self) -> str:
        return "\n".join(p.log.read_text(errors="replace") for p in self.procs if p.log.exists())


def train_model(path: Path) -> str:
    """The embedded NLU model, trained once: the processes load it instead of each training it."""
    from nlu.triage import default_model

    default_model().save(str(path))
    return str(path)


def write_config(path: Path, telegram: dict[str, Any]) -> None:
    config = {
        "development": True,  # plain http to the console (cookies without Secure)
        "console": {"secure_cookies": False, "lockout_attempts": 50},
        "database": {"pool_size": 10, "max_overflow": 10},
        # Faster than the defaults so that the test's settle time stays short: a dead consumer's
        # entries are reclaimed after 1 s, events a killed process left are published by another
        # after 2 s, an outgoing message still pending after 10 s is sent to egress again, and one a
        # killed process was sending is sent by the other after 10 s.
        "broker": {"reclaim_idle": 1.0, "outbox_grace": 2.0, "pending_grace": 10.0, "send_lease": 10.0},
        "limits": {"messages_per_minute": 1000},
        "retention": {"enabled": False},
        "channels": {
            "webchat": {"enabled": True, "messages_per_minute": 1000, "heartbeat_seconds": 5.0},
            "telegram": {"enabled": True, "mode": "polling", "poll_timeout": 1, **telegram},
        },
    }
    path.write_text(yaml.safe_dump(config))


def base_env(db_url: str, redis_url: str, data_dir: Path, keys: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env.update(
        HELPLINE_DATABASE_URL=db_url,
        HELPLINE_REDIS_URL=redis_url,
        HELPLINE_REDIS_PREFIX="faults:",
        HELPLINE_PSEUDONYM_KEY=keys["pseudonym"],
        HELPLINE_CONTACT_KEY=keys["contact"],
        HELPLINE_DATA_DIR=str(data_dir),
    )
    return env


def cli(env: dict[str, str], *args: str, stdin: bytes | None = None) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
