"""Fixtures of the gateway's tests (``tests.harness``): a running gateway (store + broker + pipeline +
memory channel); and for the broker and lease tests a private Redis and child processes."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.envelope import Priority
from gateway.store.db import Database
from gateway.store.models import Conversation
from tests.harness import KeywordTriager, Running, make_settings, migrated_store, start

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


class Gateway(Running):
    triager: KeywordTriager


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A migrated store on each backend, closed after the test."""
    async with migrated_store(db_url) as database:
        yield database


@pytest.fixture
async def gateway(db_url: str, tmp_path: Path) -> AsyncIterator[Gateway]:
    gw = await start(make_settings(db_url, tmp_path), memory=True, cls=Gateway)
    try:
        yield gw
    finally:
        await gw.close()


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, step: float = 0.02) -> float:
    """Wait until ``predicate()``; return the seconds it took."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError("timed out")
        await asyncio.sleep(step)
    return time.monotonic() - started


class BusyStore:
    """Every turn of the store taken, and console reads queued behind them: where the queue forms
    under load.  ``async with BusyStore(db, done) as busy:`` holds the turns and queues ``reads``
    reads (each noting "read" in ``done`` and holding its turn ``read_seconds``); the turns are let
    go as the block ends, and the exit waits for every read."""

    def __init__(
        self, db: Database, done: list[str], reads_per_turn: int = 10, read_seconds: float = 0.0
    ) -> None:
        self.db, self.done = db, done
        self.reads_per_turn, self.read_seconds = reads_per_turn, read_seconds
        self.release = asyncio.Event()
        self.held = 0
        self.tasks: list[asyncio.Task[None]] = []
        self.reads = 0

    async def _hold(self) -> None:
        async with self.db.session():
            self.held += 1
            await self.release.wait()

    async def _read(self) -> None:
        async with self.db.reader() as session:
            await session.execute(select(Conversation.id).limit(1))
            await asyncio.sleep(self.read_seconds)
        self.done.append("read")

    async def __aenter__(self) -> BusyStore:
        self.tasks = [asyncio.create_task(self._hold()) for _ in range(self.db.turns)]
        while self.held < self.db.turns:  # every turn of the store is taken
            await asyncio.sleep(0.01)
        self.reads = self.reads_per_turn * self.db.turns
        self.tasks += [asyncio.create_task(self._read()) for _ in range(self.reads)]
        await asyncio.sleep(0.01)  # the reads wait for a turn
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        await asyncio.gather(*self.tasks)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of our own (no persistence) that a test may stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.port = _free_port()
        self.dir = directory
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("private redis-server did not start")
            time.sleep(0.02)

    def freeze(self) -> None:
        """SIGSTOP: the server keeps its connections open but answers nothing."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=5)
        self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Child:
    """A helper script run in a real child process, killed by its pid."""

    def __init__(self, script: Path, *args: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen([sys.executable, str(script), *args], cwd=REPO, env=env)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=5)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


@pytest.fixture
def child(request: pytest.FixtureRequest) -> Iterator[Callable[..., Child]]:
    """Runs a helper script that sits beside the test module (``lease_child.py``, ``consumer_child.py``)."""
    started: list[Child] = []
    here = Path(request.path).parent

    def run(script: str, *args: str) -> Child:
        c = Child(here / script, *args)
        started.append(c)
        return c

    yield run
    for c in started:
        c.kill()


async def wait_for_file(path: Path, proc: Child, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.alive, "the child process died"
        assert time.monotonic() < deadline, f"{path.name} did not appear"
        await asyncio.sleep(0.02)
    return path.read_text()


__all__ = ["Gateway", "KeywordTriager", "Priority", "make_settings"]
