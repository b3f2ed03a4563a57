"""Out of file descriptors: a real ``helpline serve`` whose limit is reached by a flood of
connections says so in a few log lines, not one traceback per refused accept, and serves again
after; on uvloop (the default), which sheds such connections without a word, and on asyncio."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from gateway.config import new_key
from tests.bots.webchat.test_stop import _port

STORM_SECONDS = 6.0


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
            return int(resp.status) == 200
    except OSError:
        return False


@pytest.mark.parametrize("event_loop", ["uvloop", "asyncio"])
def test_running_out_of_file_descriptors_does_not_flood_the_log(tmp_path: Path, event_loop: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    env.update(
        HELPLINE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'helpline.db'}",
        HELPLINE_DATA_DIR=str(tmp_path / "data"),
        HELPLINE_PSEUDONYM_KEY=new_key(),
        HELPLINE_CONTACT_KEY=new_key(),
        HELPLINE_SERVER__EVENT_LOOP=event_loop,
    )
    config = tmp_path / "c.yml"
    config.write_text("channels:\n  webchat:\n    enabled: true\n")
    port = _port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "--config", str(config), "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    socks: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 90
        while not _healthy(url):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.3)
        before = log.read_text().count("\n")
        # The process may open 20 more files: a flood of connections runs it out of them.
        n = len(os.listdir(f"/proc/{proc.pid}/fd"))
        soft, hard = resource.prlimit(proc.pid, resource.RLIMIT_NOFILE)
        resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (n + 20, hard))
        started = time.monotonic()
        while time.monotonic() - started < STORM_SECONDS:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
                s.sendall(b"GET /chat HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append(s)
            except OSError:
                time.sleep(0.01)
            if len(socks) > 300:
                for s in socks[:100]:
                    s.close()
                del socks[:100]
        for s in socks:
            s.close()
        socks.clear()
        text = log.read_text()
        assert f"event loop: {event_loop}\n" in text
        assert "files_near_limit" in text and "LimitNOFILE" in text, "the storm is seen in the log"
        lines = text.count("\n") - before
        assert lines < 400, f"{lines} log lines in {STORM_SECONDS} s"  # before: about 60,000
        resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (soft, hard))
        deadline = time.monotonic() + 10
        while not _healthy(url):
            assert time.monotonic() < deadline, "the gateway serves again"
            time.sleep(0.3)
    finally:
        for s in socks:
            s.close()
        proc.terminate()
        proc.wait(timeout=20)
