"""The ``helpline`` command as a person runs it: real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def helpline(
    *args: str, env: dict[str, str], stdin: str = "", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    return {**clean, "HELPLINE_DATA_DIR": str(tmp_path / "data")}


def test_users_add_reads_the_password_from_stdin_and_refuses_bad_input(env: dict[str, str]) -> None:
    ok = helpline(
        "users", "add", "admin1", "--role", "admin", "--password-stdin", env=env, stdin="a long password\n"
    )
    assert ok.returncode == 0, ok.stderr
    assert "created admin 'admin1'" in ok.stdout
    again = helpline("users", "add", "admin1", "--role", "admin", env=env, stdin="a long password\n")
    assert again.returncode == 1 and "exists already" in again.stderr
    short = helpline("users", "add", "c1", "--role", "counsellor", env=env, stdin="short\n")
    assert short.returncode == 1 and "at least 12" in short.stderr
    listed = helpline("users", "list", env=env)
    assert "admin1\tadmin\tenabled\t2fa off\t-\tnever" in listed.stdout
    for result in (again, short):
        assert "Traceback" not in result.stderr


def test_bad_configuration_names_the_key_without_a_traceback(env: dict[str, str], tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yml"
    cfg.write_text("server:\n  port: not-a-port\n")
    result = helpline("--config", str(cfg), "db", "upgrade", env=env)
    assert result.returncode == 2
    assert "server.port" in result.stderr and "Traceback" not in result.stderr
    result = helpline("db", "upgrade", env={**env, "HELPLINE_SERVER__PROT": "1"})
    assert result.returncode == 2 and "server.prot" in result.stderr and "Traceback" not in result.stderr


def test_db_upgrade_on_postgres(env: dict[str, str], pg_url: str) -> None:
    result = helpline("db", "upgrade", env={**env, "HELPLINE_DATABASE_URL": pg_url})
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


@pytest.mark.parametrize("event_loop", ["uvloop", "asyncio"])
def test_serve_starts_on_the_embedded_default_and_healthz_answers(
    env: dict[str, str], free_port: int, event_loop: str
) -> None:
    if event_loop == "asyncio":
        env = {**env, "HELPLINE_SERVER__EVENT_LOOP": "asyncio"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(free_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{free_port}/healthz", timeout=2) as resp:
                    body = json.loads(resp.read())
                    break
            except OSError:
                time.sleep(0.3)
        assert body is not None, "healthz never answered"
        assert body["store"] == {"state": "ok", "kind": "sqlite", "dead_letters": 0}
        assert body["broker"]["state"] == "ok" and body["broker"]["kind"] == "in-process"
        assert "webchat" in body["channels"] or body["channels"] == {}
        assert body["nlu"]["state"] in ("ok", "degraded")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert f"http://127.0.0.1:{free_port}" in out
    assert "helpline users add NAME --role admin" in out
    # The banner names the loop the app's start-up ran on, not the setting.
    assert f"helpline: event loop: {event_loop}\n" in out


def test_serve_on_a_port_in_use_says_so_without_a_traceback(env: dict[str, str], free_port: int) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port))
        taken.listen()
        result = helpline("serve", "--port", str(free_port), env=env)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{free_port}" in result.stderr
    assert "--port" in result.stderr and "Traceback" not in result.stderr + result.stdout


def test_users_add_takes_the_capacity_from_console_default_capacity(
    env: dict[str, str], tmp_path: Path
) -> None:
    import sqlite3

    env = {**env, "HELPLINE_CONSOLE__DEFAULT_CAPACITY": "7"}
    for name, extra in (("c1", ()), ("c2", ("--capacity", "2"))):
        done = helpline(
            "users", "add", name, "--role", "counsellor", *extra, "--password-stdin",
            env=env, stdin="a long password\n",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "data" / "helpline.db") as db:
        rows = dict(db.execute("SELECT username, capacity FROM staff_users").fetchall())
    assert rows == {"c1": 7, "c2": 2}
