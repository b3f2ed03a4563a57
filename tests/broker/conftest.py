"""Fixtures of the broker and lease tests: brokers of both kinds, a private Redis, child processes."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.broker import Broker, Event
from gateway.broker.inprocess import InProcessBroker
from gateway.broker.redis import RedisBroker

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

MakeBroker = Callable[..., Awaitable[Broker]]


class Recorder:
    """A handler that records the events it handled and lets a test wait for them."""

    def __init__(self, name: str = "", fail_first: int = 0, delay: float = 0.0) -> None:
        self.name = name
        self.events: list[Event] = []
        self.attempts: list[str] = []
        self.fail_first = fail_first
        self.delay = delay
        self._changed = asyncio.Event()

    async def __call__(self, event: Event) -> None:
        self.attempts.append(event.id)
        self._changed.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        if len(self.attempts) <= self.fail_first:
            raise RuntimeError("handler failed on purpose")
        self.events.append(event)
        self._changed.set()

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.events]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting; {self.name} handled {self.ids}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.05))
            except TimeoutError:
                pass

    async def wait_count(self, n: int, timeout: float = 5.0) -> None:
        await self.wait_for(lambda: len(self.events) >= n, timeout)


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, step: float = 0.02) -> float:
    """Wait until ``predicate()``; return the seconds it took."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError("timed out")
        await asyncio.sleep(step)
    return time.monotonic() - started


@pytest.fixture(params=["inprocess", pytest.param("redis", marks=pytest.mark.redis)])
def broker_target(request: pytest.FixtureRequest) -> tuple[str | None, str | None]:
    """(redis_url, prefix) for the Redis broker, (None, None) for the in-process one."""
    if request.param == "redis":
        return request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
    return None, None


@pytest.fixture
async def make_broker(broker_target: tuple[str | None, str | None]) -> AsyncIterator[MakeBroker]:
    """Makes started brokers of one kind (every test runs with both); all closed after the test.

    Redis brokers made by one test share a prefix, as the processes of one fleet do.  In-process
    brokers are independent, so a test that needs several consumers makes several subscriptions
    on one broker.
    """
    made: list[Broker] = []
    redis_url, prefix = broker_target

    async def make(reclaim_idle: float = 30.0, **kwargs: Any) -> Broker:
        broker: Broker
        if redis_url is None:
            broker = InProcessBroker(reclaim_idle=reclaim_idle, **kwargs)
        else:
            assert prefix is not None
            broker = RedisBroker(redis_url, prefix=prefix, reclaim_idle=reclaim_idle, **kwargs)
        await broker.start()
        made.append(broker)
        return broker

    yield make
    for broker in made:
        await broker.close()


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
    """A helper script of this directory run in a real child process, killed by its pid."""

    def __init__(self, script: str, *args: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen([sys.executable, str(HERE / script), *args], cwd=REPO, env=env)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=5)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


@pytest.fixture
def child() -> Iterator[Callable[..., Child]]:
    started: list[Child] = []

    def run(script: str, *args: str) -> Child:
        c = Child(script, *args)
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
