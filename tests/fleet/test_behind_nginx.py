"""docs/deploy.md as written: two ``helpline serve`` processes on PostgreSQL and Redis behind nginx
(Debian's package, unprivileged, the site file taken from the document with only ports, paths
and the certificate changed), a web chat visitor and a counsellor who logs in and replies, all
through the proxy over TLS; JSON logs that name no one."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import yaml

from gateway.config import new_key
from tests.bots.email.test_email_tls import make_cert
from tests.faults.clients import CLIENT_IP, ChatPerson, ConsoleUser
from tests.faults.fleet import PASSWORD, ROOT, free_port, train_model

NGINX = "/usr/sbin/nginx"
TOKEN = "metrics-token-for-the-test"
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(NGINX), reason="nginx is not installed (apt-get install nginx)"),
]


def site_from_docs() -> str:
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- nginx-site:.*?-->\n```nginx\n(.*?)```", text, re.S)
    assert found, "docs/deploy.md has the marked nginx site block"
    return found.group(1)


def nginx_conf(prefix: Path, ports: list[int], listen: int, cert: Path, key: Path) -> str:
    site = site_from_docs()
    for documented, port in (("127.0.0.1:8081", ports[0]), ("127.0.0.1:8082", ports[1])):
        assert documented in site
        site = site.replace(documented, f"127.0.0.1:{port}")
    for documented, ours in (
        ("listen 443 ssl;", f"listen 127.0.0.1:{listen} ssl;"),
        ("/etc/ssl/helpline/fullchain.pem", str(cert)),
        ("/etc/ssl/helpline/privkey.pem", str(key)),
    ):
        assert documented in site
        site = site.replace(documented, ours)
    # The plain-http redirect server would need port 80: not in a test.
    site = site[: site.rindex("server {\n    listen 80;")]
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"  client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy;\n"
        f"  fastcgi_temp_path {prefix}/fastcgi; uwsgi_temp_path {prefix}/uwsgi; scgi_temp_path {prefix}/scgi;\n"
        f"{site}}}\n"
    )


@dataclass
class Deployment:
    url: str
    direct: list[str]
    ssl: ssl.SSLContext
    logs: list[Path]


async def wait_ready(url: str, procs: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    deadline = time.monotonic() + 120
    async with aiohttp.ClientSession() as http:
        while True:
            for proc, log in zip(procs, logs, strict=True):
                assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                async with http.get(f"{url}/readyz", timeout=aiohttp.ClientTimeout(total=3)) as resp:
                    if resp.status == 200:
                        return
            except (aiohttp.ClientError, OSError, TimeoutError):
                pass
            assert time.monotonic() < deadline, f"{url} not ready"
            await asyncio.sleep(0.3)


@pytest.fixture
async def deployment(
    pg_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> AsyncIterator[Deployment]:
    config = tmp_path / "helpline.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "logging": {"format": "json"},
                "metrics": {"token": TOKEN},
                "nlu": {"model_path": train_model(tmp_path / "model")},
                "retention": {"enabled": False},
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env.update(
        HELPLINE_DATABASE_URL=pg_url,
        HELPLINE_REDIS_URL=redis_url,
        HELPLINE_REDIS_PREFIX=redis_prefix,
        HELPLINE_PSEUDONYM_KEY=new_key(),
        HELPLINE_CONTACT_KEY=new_key(),
        HELPLINE_DATA_DIR=str(tmp_path / "data"),
    )

    def cli(*args: str, stdin: bytes | None = None) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "--config", str(config), *args],
            env=env, cwd=ROOT, input=stdin, capture_output=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]

    cli("db", "upgrade")
    cli("users", "add", "anna", "--role", "counsellor", "--password-stdin", stdin=f"{PASSWORD}\n".encode())
    ports = [free_port(), free_port()]
    logs = [tmp_path / f"gateway-{i}.log" for i in range(2)]
    procs: list[subprocess.Popen[bytes]] = []
    nginx: subprocess.Popen[bytes] | None = None
    try:
        for port, log in zip(ports, logs, strict=True):
            with log.open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "gateway.cli",
                            "--config",
                            str(config),
                            "serve",
                            "--port",
                            str(port),
                        ],
                        env=env,
                        cwd=ROOT,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        direct = [f"http://127.0.0.1:{port}" for port in ports]
        for url in direct:
            await wait_ready(url, procs, logs)

        cert = make_cert(tmp_path, "proxy", ["localhost"], ["127.0.0.1"])
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        listen = free_port()
        conf = prefix / "nginx.conf"
        conf.write_text(nginx_conf(prefix, ports, listen, cert.cert, cert.key))
        tested = subprocess.run(
            [NGINX, "-t", "-p", str(prefix), "-c", str(conf)], capture_output=True, text=True
        )
        assert tested.returncode == 0, tested.stderr
        nginx = subprocess.Popen(
            [NGINX, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        context = ssl.create_default_context(cafile=str(cert.cert))
        url = f"https://127.0.0.1:{listen}"
        deadline = time.monotonic() + 20
        async with aiohttp.ClientSession() as http:
            while True:
                assert nginx.poll() is None, (prefix / "error.log").read_text(errors="replace")
                try:
                    async with http.get(f"{url}/readyz", ssl=context) as resp:
                        if resp.status == 200:
                            break
                except (aiohttp.ClientError, OSError):
                    pass
                assert time.monotonic() < deadline, "nginx does not answer"
                await asyncio.sleep(0.2)
        yield Deployment(url, direct, context, logs)
    finally:
        if nginx is not None:
            nginx.send_signal(signal.SIGQUIT)
            try:
                nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def through(session_ssl: ssl.SSLContext, **kw: object) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(local_addr=(CLIENT_IP, 0), force_close=True, ssl=session_ssl)
    return aiohttp.ClientSession(connector=connector, **kw)  # type: ignore[arg-type]


async def eventually(check: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    assert callable(check)
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.1)


async def test_a_visitor_and_a_counsellor_through_nginx(deployment: Deployment) -> None:
    d = deployment
    urls = lambda: [d.url]  # noqa: E731 - the clients ask for their targets each time
    anna = ConsoleUser("anna", PASSWORD, urls)
    await anna.http.close()
    anna.http = through(d.ssl, cookie_jar=aiohttp.CookieJar(unsafe=True))
    chat_http = through(d.ssl)
    person = ChatPerson("visitor", chat_http, urls)
    text = "jag vill inte leva längre, hjälp mig"
    reply = "Jag finns här. Är du i säkerhet just nu?"
    try:
        await anna.login()  # the real form, its CSRF token and the Secure cookie over TLS
        anna.watch()
        await eventually(
            lambda: any(f.get("type") == "queue" for f in anna.frames), "the console's live feed"
        )

        person.start()
        await eventually(lambda: person.ws is not None and person.token is not None, "the visitor's welcome")
        client_id = await person.write(text)
        await person.wait_acked(client_id, timeout=30)
        assert person.conv is not None
        conv = person.conv
        # Real triage reads it as critical: every console is alerted, whichever process holds it.
        await eventually(lambda: any(a.get("conversation_id") == conv for a in anna.alerts), "the alert")

        status, _ = await anna.call("POST", f"/console/api/conversations/{conv}/claim")
        assert status == 200
        status, _ = await anna.call(
            "POST", f"/console/api/conversations/{conv}/reply", {"text": reply}, key=str(uuid.uuid4())
        )
        assert status == 200
        await eventually(
            lambda: any(f.get("text") == reply for f in person.shown), "the reply on the chat page"
        )
    finally:
        await person.stop()
        await anna.close()
        await chat_http.close()

    # Each process answers for itself; together they counted the visitor's message once.
    counted = 0.0
    async with aiohttp.ClientSession() as http:
        for url in d.direct:
            async with http.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                assert resp.status == 200
                body = await resp.text()
            found = re.search(r'^helpline_messages_in_total\{channel="webchat"\} (\S+)$', body, re.M)
            counted += float(found.group(1)) if found else 0.0
            assert conv not in body and text not in body
        async with http.get(f"{d.url}/metrics", ssl=d.ssl) as resp:
            assert resp.status == 404  # not through the proxy
    assert counted == 1

    await asyncio.sleep(0.5)
    for log in d.logs:
        for line in log.read_text(errors="replace").splitlines():
            if line.lstrip().startswith(
                ("helpline", "web chat", "counsellor", "health", "store:", "first admin", "the console")
            ):
                continue  # the start banner (print, not the log)
            event = json.loads(line)  # every log line is one JSON object
            assert {"time", "level", "logger", "message"} <= set(event), line
            for secret in (CLIENT_IP, "127.0.0.1", text, reply, conv, person.secret or "-"):
                assert secret not in line, f"{secret!r} in {line}"
    assert shutil.which(NGINX) or os.path.exists(NGINX)
