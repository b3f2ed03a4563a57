"""``helpline serve`` processes as a user runs them, on a store and broker made for the run.

The store is a fresh SQLite file, or a PostgreSQL database created here and dropped afterwards;
Redis keys live under a private prefix that is deleted afterwards.  Staff accounts are made with
``helpline users add``.  Every process this module starts is stopped by :meth:`Deployment.stop`.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gateway.config import new_key

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = os.environ.get("HELPLINE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("HELPLINE_BENCH_REDIS", "redis://127.0.0.1:6379/0")
PASSWORD = "bench: correct horse battery staple"

# Raised for the benchmark, and only these: a visitor here writes far more often than a person
# (20 a minute is the shipped limit), and 10,000 idle sockets exceed the default 5,000 per process.
CONFIG = """\
limits:
  messages_per_minute: 100000
webchat:
  max_sockets: 30000
database:
  processes: {processes}
metrics:
  token: {metrics_token}
"""
METRICS_TOKEN = "bench-scrape-0123456789"
"""/metrics on the main port (the event loop's lag): the bench reads it at both edges of the window."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _raise_fd_limit() -> None:  # runs in the child before exec
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class Setup:
    name: str  # "sqlite", "pg-1", "pg-2"
    postgres: bool
    processes: int

    @property
    def label(self) -> str:
        if not self.postgres:
            return "SQLite, 1 process"
        return f"PostgreSQL + Redis, {self.processes} process{'es' if self.processes > 1 else ''}"


SETUPS = {
    "sqlite": Setup("sqlite", False, 1),
    "pg-1": Setup("pg-1", True, 1),
    "pg-2": Setup("pg-2", True, 2),
}


@dataclass
class Deployment:
    setup: Setup
    workdir: Path
    counsellors: int  # accounts made (each console mode of a run signs in with accounts of its own)
    capacity: int
    database: str = ""  # PostgreSQL database name, when made here
    redis_prefix: str = ""
    env: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    @property
    def usernames(self) -> list[str]:
        return [f"bench{i:03d}" for i in range(self.counsellors)]

    def _cli(self, *args: str, stdin: str | None = None) -> None:
        cmd = [sys.executable, "-m", "gateway.cli", "--config", str(self.workdir / "bench.yml"), *args]
        done = subprocess.run(
            cmd, env=self.env, input=stdin.encode() if stdin else None, capture_output=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"helpline {' '.join(args)} failed: {done.stderr.decode()[-2000:]}")

    def prepare(self) -> None:
        """Database, configuration, schema and staff accounts, through the command line."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "bench.yml").write_text(
            CONFIG.format(processes=self.setup.processes, metrics_token=METRICS_TOKEN)
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env.update(
            HELPLINE_PSEUDONYM_KEY=new_key(),
            HELPLINE_CONTACT_KEY=new_key(),
            HELPLINE_DATA_DIR=str(self.workdir / "data"),
        )
        if self.setup.postgres:
            self.database = f"helpline_bench_{uuid.uuid4().hex[:10]}"
            asyncio.run(_pg_admin(f'CREATE DATABASE "{self.database}"'))
            base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
            env["HELPLINE_DATABASE_URL"] = f"{base}/{self.database}"
            self.redis_prefix = f"helpline-bench:{uuid.uuid4().hex[:10]}:"
            env["HELPLINE_REDIS_URL"] = REDIS
            env["HELPLINE_REDIS_PREFIX"] = self.redis_prefix
        else:
            env["HELPLINE_DATABASE_URL"] = f"sqlite+aiosqlite:///{self.workdir / 'helpline.db'}"
        self.env = env
        self._cli("db", "upgrade")

        def add(name: str) -> None:
            self._cli(
                "users",
                "add",
                name,
                "--role",
                "counsellor",
                "--capacity",
                str(self.capacity),
                "--password-stdin",
                stdin=PASSWORD + "\n",
            )

        # Each call starts a Python process (seconds of imports): a few at a time.
        with ThreadPoolExecutor(4) as pool:
            failed = [n for n, f in [(n, pool.submit(add, n)) for n in self.usernames] if f.exception()]
        for name in failed:  # SQLite refused a concurrent writer: once more, alone
            add(name)

    def start(self, timeout: float = 180.0) -> None:
        for i in range(self.setup.processes):
            port = free_port()
            log = open(self.workdir / f"serve-{i}.log", "wb")
            self.procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "gateway.cli",
                        "--config",
                        str(self.workdir / "bench.yml"),
                        "serve",
                        "--dev",
                        "--port",
                        str(port),
                    ],
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_raise_fd_limit,
                    cwd=self.workdir,
                )
            )
            self.urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + timeout
        for proc, url in zip(self.procs, self.urls, strict=True):
            while not _healthy(url):
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"helpline serve exited ({proc.returncode}); see {self.workdir}/serve-*.log"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(f"helpline serve did not answer /healthz in {timeout:.0f} s")
                time.sleep(0.3)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        if self.database:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
            self.database = ""
        if self.redis_prefix:
            asyncio.run(_redis_clean(self.redis_prefix))
            self.redis_prefix = ""

    def database_name(self) -> str:
        return self.database


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=3) as resp:
            return json.loads(resp.read()).get("status") in ("ok", "degraded")
    except (OSError, ValueError):
        return False


async def _pg_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def pg_backend_pids(database: str) -> list[int]:
    """The PostgreSQL server processes serving the benchmark's database."""
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]


async def _redis_clean(prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        for i in range(0, len(keys), 500):
            await client.delete(*keys[i : i + 500])
    finally:
        await client.aclose()
