"""Issue 15, item 12: bad input and an unavailable store become clear answers, never a logged
traceback or client address.

The console runs on a PostgreSQL server of the test's own (started here on a free port, stopped
here: the shared one is never touched).  Every request below is sent as raw bytes over HTTP; the
captured logs of the whole test are then searched for the client address and "Traceback".
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from gateway import catalogues
from gateway.errors import NotFound, PermissionDenied
from gateway.web_errors import SERVER_OPTIONS, error_middleware
from tests.handoff.console.conftest import CSRF_INPUT, Console, stop_console
from tests.harness import make_settings, start

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# As root, the server runs as the postgres user (it refuses root); the process is the server itself.
AS_POSTGRES = "postgres" if os.geteuid() == 0 else None


@pytest.fixture
def private_pg() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL 15 binaries not installed")
    # Outside pytest's tmp_path: the server runs as the postgres user, which cannot enter it.
    home = Path(tempfile.mkdtemp(prefix="helpline-pg-"))
    data = home / "pg"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(
        [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
        user=AS_POSTGRES,
        cwd=home,
    )
    port = _free_port()
    proc = subprocess.Popen(
        [
            *(str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port), "-k", str(data)),
            "-c",
            "listen_addresses=127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        user=AS_POSTGRES,
        cwd=home,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready = subprocess.run(
            [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
        )
        if ready.returncode == 0:
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the test's own PostgreSQL did not start")
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


async def test_bad_input_and_a_stopped_store_are_answered_without_traceback_or_address(
    private_pg: tuple[str, subprocess.Popen[bytes]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url, server = private_pg
    settings = make_settings(url, tmp_path)
    # As `helpline serve` runs it (gateway.cli): without aiohttp's access log, which names clients.
    console = await start(settings, memory=True, cls=Console, **SERVER_OPTIONS)
    try:
        admin = await console.signed_in("admin1", "admin")
        conv_id = await console.person("anna@example.org", "Hej, jag är orolig för min bror.")

        # A NUL in a login name: the usual "wrong name or password", not a server error.
        anon = console.browser()
        resp = await anon.login("ad\x00min1")
        assert resp.status == 401

        # A body that is not UTF-8.
        async with anon.http.get(anon.url("/console/login")) as page:
            found = CSRF_INPUT.search(await page.text())
        assert found
        body = b"username=\xff\xfe\xfa&password=x&csrf=" + found.group(1).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        async with anon.http.post(anon.url("/console/login"), data=body, headers=headers) as resp:
            assert resp.status == 400
        async with admin.http.post(
            admin.url(f"/console/api/conversations/{conv_id}/reply"),
            data=b'{"text": "\xff\xfe"}',
            headers={"Content-Type": "application/json", "X-CSRF-Token": admin.csrf},
        ) as resp:
            assert resp.status == 400

        # JSON nested deeper than the parser goes (1,200 brackets).
        async with admin.http.post(
            admin.url(f"/console/api/conversations/{conv_id}/reply"),
            data=b"[" * 1200 + b"]" * 1200,
            headers={"Content-Type": "application/json", "X-CSRF-Token": admin.csrf},
        ) as resp:
            assert resp.status == 400

        # The store goes away: 503 with Retry-After, for the API and for pages.
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        # A session read just before is remembered for a moment (console.session_cache_seconds,
        # gateway/session_cache.py): a page that needs nothing else could still be served in it.
        await asyncio.sleep(float(settings.section("console")["session_cache_seconds"]) + 0.1)
        for path in ("/console/api/queue", "/console", "/console/api/dead-letters"):
            resp = await admin.get(path)
            assert resp.status == 503, (path, resp.status)
            assert int(resp.headers["Retry-After"]) > 0
        resp = await anon.login("admin1")
        assert resp.status == 503
    finally:
        await stop_console(console)

    logged = caplog.text
    assert "127.0.0.1" not in logged
    assert "Traceback" not in logged


@pytest.mark.parametrize(
    ("error", "status", "words"),
    [
        (NotFound("x"), 404, "Hittades inte. / Not found."),
        (PermissionDenied("x"), 403, "Ingen behörighet. / Forbidden."),
        (KeyError("x"), 500, "Ett fel uppstod. / An error occurred."),
    ],
)
async def test_a_page_request_that_fails_reads_the_console_catalogue_in_swedish_then_english(
    error: Exception, status: int, words: str
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise error

    request = make_mocked_request("GET", "/somewhere", headers={"Accept": "text/html"})
    answer = await error_middleware(request, handler)
    assert isinstance(answer, web.Response)
    assert answer.status == status
    sv = catalogues.text("console", "sv", "http_error.other" if status == 500 else f"http_error.{status}")
    assert answer.text == words
    assert answer.text.startswith(sv)
