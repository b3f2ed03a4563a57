"""``../shared/peerbench`` in the same run: its bare aiohttp relay and opsdroid's echo bot, driven by
its own load tool (``load.py``), each for ``duration`` seconds at ``concurrency`` clients.

The relay and the load tool run on this project's Python (aiohttp is here already); opsdroid runs
from the venv its ``run_opsdroid.sh`` creates under ``$PEERBENCH_DIR`` (default /tmp/peerbench),
which needs the network the first time: when that fails, the relay is still measured and the
reason is printed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .servers import free_port

PEERBENCH = Path(
    os.environ.get("HELPLINE_PEERBENCH", Path(__file__).resolve().parents[3] / "shared" / "peerbench")
)


def _wait_port(port: int, pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            raise RuntimeError(f"process {pid} exited before port {port} opened") from None
        time.sleep(0.3)
    raise RuntimeError(f"port {port} did not open in {timeout:.0f} s")


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)


def _load(mode: str, url: str, concurrency: int, duration: float, pid: int) -> dict[str, Any]:
    cmd = [sys.executable, str(PEERBENCH / "load.py"), mode, "--url", url, "-c", str(concurrency),
           "-d", str(duration), "--server-pid", str(pid)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"peerbench load.py {mode} failed: {done.stderr[-500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def relay(concurrency: int, duration: float, workdir: Path) -> dict[str, Any]:
    port = free_port()
    with open(workdir / "relay.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(PEERBENCH / "relay_server.py"), "--port", str(port)], stdout=log, stderr=log
        )
    try:
        _wait_port(port, proc.pid, 30)
        return _load("relay", f"ws://127.0.0.1:{port}", concurrency, duration, proc.pid)
    finally:
        _stop(proc.pid)
        proc.wait()


def opsdroid(concurrency: int, duration: float) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "PEERBENCH_DIR": os.environ.get("PEERBENCH_DIR", "/tmp/peerbench")}
    done = subprocess.run(
        [str(PEERBENCH / "run_opsdroid.sh"), str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip().isdigit():
        raise RuntimeError(
            f"run_opsdroid.sh failed (its venv needs the network the first time): {done.stderr[-500:]}"
        )
    pid = int(done.stdout.strip())
    try:
        _wait_port(port, pid, 120)
        return _load("opsdroid", f"http://127.0.0.1:{port}", concurrency, duration, pid)
    finally:
        _stop(pid)


def run(concurrency: int, duration: float, workdir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    runs: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("relay", lambda: relay(concurrency, duration, workdir)),
        ("opsdroid", lambda: opsdroid(concurrency, duration)),
    ]
    for name, fn in runs:
        print(f"== peerbench {name}, {concurrency} clients, {duration:.0f} s", file=sys.stderr)
        try:
            out[name] = fn()
        except Exception as exc:
            out[name] = {"note": f"(not measured: {exc})"}
            print(f"   {name} not measured: {exc}", file=sys.stderr)
            continue
        r = out[name]
        print(
            f"   {name}: {r['msgs_per_s']} msgs/s, p50/p99 {r['lat_ms_p50']}/{r['lat_ms_p99']} ms, server {r['server_cpu_us_per_msg']} µs per message, errors {r['errors']}"
        )
    return out
