"""The one way the tests build and run the gateway.

``make_settings`` gives a configuration on a test's own store (SQLite file or PostgreSQL database: the
``sqlite_url``, ``pg_url`` and ``db_url`` fixtures of ``tests/conftest.py``); ``start`` builds the app
with ``gateway.app.create_app`` (a chosen triager and adapters, ``extensions`` applied to the built app),
starts it as an aiohttp ``TestClient``/``TestServer`` or on a real port, and returns a ``Running``
gateway: its store, pipeline and adapters, staff users (``user``), people at the console each with
their own cookies (``browser``, ``signed_in``: signed in as staff are, a supervisor or admin with
the second factor they enrol at their first login, codes computed by ``tests.authenticator``);
``close`` tears it all down.  ``running`` is the same
as an async context manager.  A test package's fixture subclasses ``Running`` (``cls=``) for helpers
of its own.

    async with running(make_settings(sqlite_url, tmp_path), adapters=[memory]) as gw:
        admin = await gw.signed_in("ada", "admin")
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bots.memory import MemoryAdapter
from gateway.app import create_app
from gateway.appkeys import ADAPTERS, DB, PIPELINE, SETTINGS
from gateway.auth import create_user
from gateway.channel import ChannelAdapter
from gateway.cli import SHUTDOWN_TIMEOUT
from gateway.config import Settings, load_settings
from gateway.pipeline import Pipeline
from gateway.store.db import Database
from gateway.store.models import StaffUser
from gateway.web_errors import SERVER_OPTIONS
from nlu.result import INTENT_PRIORITY, Triager, TriageResult
from tests import sqlite_template
from tests.authenticator import AUTHENTICATOR as AUTHENTICATOR
from tests.authenticator import CSRF_INPUT as CSRF_INPUT
from tests.authenticator import PASSWORD as PASSWORD
from tests.authenticator import TOTP_SECRET as TOTP_SECRET
from tests.authenticator import login_in_page as login_in_page
from tests.authenticator import second_step

# A test gateway stops in well under a second; past this its stop is stuck (see ``dump_tasks``).
STOP_PATIENCE = 60.0
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')

# The channels of ``make_settings``: the memory channel (tests pass its adapter), no web chat.
MEMORY_ONLY = {"memory": {"enabled": True}, "webchat": {"enabled": False}}
# The console over plain http (``make_settings``' default), and as in production (the defaults).
PLAIN_HTTP = {
    "development": True,
    "console.secure_cookies": False,
    # argon2 at its cheapest (allowed in development only): the suite hashes thousands of passwords.
    # tests/gateway/test_auth.py keeps the default cost and its floor under test.
    "console.password_time_cost": 1,
    "console.password_memory_kib": 8,
    "console.password_parallelism": 1,
}
SECURE = {
    "development": False,
    "console.secure_cookies": True,
    "console.password_time_cost": 3,
    "console.password_memory_kib": 65536,
    "console.password_parallelism": 4,
}


class KeywordTriager:
    """A small, deterministic triager, so that tests do not depend on the model."""

    RULES = (
        ("urgent_threat", ("bomb", "attack", "spränga", "döda")),
        ("self_harm", ("inte leva", "kill myself", "ta mitt liv")),
        ("travel_conflict", ("syrien", "syria")),
        ("leave_movement", ("lämna rörelsen", "leave the movement")),
        ("greet", ("hej", "hello")),
        ("info_request", ("anonym",)),
    )

    def __init__(self) -> None:
        self.fail = False

    async def parse(self, text: str, language_hint: str | None = None) -> TriageResult:
        if self.fail:
            raise RuntimeError("triage backend exploded")
        low = text.lower()
        intent = next(
            (name for name, words in self.RULES if any(w in low for w in words)), "concern_relative"
        )
        if intent == "greet" and len(low.split()) > 3:
            intent = "concern_relative"
        return TriageResult(
            text=text,
            intent=intent,
            confidence=0.9,
            language=language_hint or ("en" if " the " in f" {low} " else "sv"),
            priority=INTENT_PRIORITY[intent],
            safe_response=f"SAFE:{intent}",
            intent_ranking=((intent, 0.9),),
            backend="keyword-test",
        )

    def health(self) -> dict[str, Any]:
        return {"state": "ok", "backend": "keyword-test"}


def make_settings(db_url: str | None, tmp_path: Path, **extra: Any) -> Settings:
    """The configuration of a test gateway: its store at ``db_url`` (none: the configuration's
    default), data under ``tmp_path``, the memory channel only, a quick broker reclaim and the
    console over plain http; ``extra`` are dotted keys that override these (``**SECURE`` for the
    console as in production)."""
    overrides: dict[str, Any] = {
        **({"database_url": db_url} if db_url is not None else {}),
        "data_dir": str(tmp_path / "data"),
        "channels": MEMORY_ONLY,
        "broker.reclaim_idle": 0.5,
        # The tests speak plain http to the console.
        **PLAIN_HTTP,
        **extra,
    }
    return load_settings(environ={}, overrides=overrides)


@dataclass
class Browser:
    """One person at the console: an HTTP client with its own cookies (like one browser)."""

    base: str
    http: aiohttp.ClientSession
    csrf: str = ""
    username: str = ""

    def url(self, path: str) -> str:
        return self.base + path

    async def login(self, username: str, password: str = PASSWORD) -> aiohttp.ClientResponse:
        """Sign in as staff do: the password, then the second factor when the account has one
        (or enrols, for the roles that need one), with codes computed as an authenticator app
        does.  A login that reached the console answers 303 (after an enrolment, which shows the
        recovery codes instead of redirecting, the password step's 303)."""
        async with self.http.get(self.url("/console/login")) as page:
            form_csrf = CSRF_INPUT.search(await page.text())
        assert form_csrf, "the login form carries a CSRF token"
        resp = await self.http.post(
            self.url("/console/login"),
            data={"username": username, "password": password, "csrf": form_csrf.group(1)},
            allow_redirects=False,
        )
        await resp.read()
        stepped = await second_step(self.http, self.base, username, resp)
        if stepped is not None and stepped.status == 200:
            # Enrolled: the recovery codes were shown and the browser is signed in.  The answer is
            # that of the password step (303), as for any login that reached the console.
            home = re.search(r'id="continue" class="button" href="([^"]+)"', await stepped.text())
            assert home, "the recovery codes page leads on"
            stepped = None
        resp = stepped or resp
        if resp.status == 303:
            self.username = username
            async with self.http.get(self.url("/console"), allow_redirects=False) as console:
                found = CSRF_META.search(await console.text())
            self.csrf = found.group(1) if found else ""
        return resp

    async def get(self, path: str, **kw: Any) -> aiohttp.ClientResponse:
        resp = await self.http.get(self.url(path), allow_redirects=False, **kw)
        await resp.read()
        return resp

    async def post(
        self, path: str, json: Any = None, *, csrf: str | None = None, **kw: Any
    ) -> aiohttp.ClientResponse:
        headers = dict(kw.pop("headers", {}))
        token = self.csrf if csrf is None else csrf
        if token:
            headers["X-CSRF-Token"] = token
        resp = await self.http.post(self.url(path), json=json, headers=headers, allow_redirects=False, **kw)
        await resp.read()
        return resp

    async def claim(self, conv_id: str) -> aiohttp.ClientResponse:
        return await self.post(f"/console/api/conversations/{conv_id}/claim")


class Running:
    """A started gateway.  Built by ``start``; test packages subclass it for helpers of their own."""

    def __init__(
        self,
        app: web.Application,
        triager: Any,
        *,
        client: TestClient[Any, Any] | None = None,
        runner: web.AppRunner | None = None,
        base: str = "",
    ) -> None:
        self.app = app
        self.triager = triager
        self._client = client
        self._runner = runner
        self._base = base
        self.browsers: list[Browser] = []

    @property
    def client(self) -> TestClient[Any, Any]:
        assert self._client is not None, "this gateway runs on a real port, not in a TestClient"
        return self._client

    @property
    def server(self) -> TestServer:
        server = self.client.server
        assert isinstance(server, TestServer)
        return server

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT`` without a trailing slash."""
        return self._base or str(self.client.make_url("")).rstrip("/")

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def settings(self) -> Settings:
        return self.app[SETTINGS]

    @property
    def db(self) -> Database:
        return self.app[DB]

    @property
    def pipeline(self) -> Pipeline:
        return self.app[PIPELINE]

    @property
    def adapters(self) -> dict[str, ChannelAdapter]:
        return self.app[ADAPTERS]

    @property
    def memory(self) -> MemoryAdapter:
        memory = self.adapters["memory"]
        assert isinstance(memory, MemoryAdapter)
        return memory

    async def user(
        self,
        name: str,
        role: str = "counsellor",
        capacity: int = 3,
        *,
        password: str = PASSWORD,
        display_name: str = "",
        **kw: Any,
    ) -> StaffUser:
        """A staff member with ``role`` (``gateway.auth.create_user``: argon2, so not free)."""
        async with self.db.session() as session:
            return await create_user(
                session, name, password, role, capacity=capacity, display_name=display_name, **kw
            )

    def browser(self) -> Browser:
        """A new person at the console, signed out; closed with the gateway."""
        b = Browser(self.base, aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)))
        self.browsers.append(b)
        return b

    async def signed_in(self, name: str, role: str = "counsellor", capacity: int = 3) -> Browser:
        """A new staff member with ``role``, signed in at the console in a browser of their own."""
        extra = {"municipality_code": "0180"} if role == "municipality" else {}
        await self.user(name, role, capacity, **extra)
        b = self.browser()
        resp = await b.login(name)
        assert resp.status == 303, resp.status
        return b

    async def person(self, address: str, text: str) -> str:
        """A person writes on the memory channel; their conversation's id."""
        return str((await self.memory.person_writes(address, text)).conversation_id)

    async def close(self) -> None:
        try:
            async with asyncio.timeout(STOP_PATIENCE):
                for b in self.browsers:
                    await b.http.close()
                if self._client is not None:
                    await self._client.close()
                if self._runner is not None:
                    await self._runner.cleanup()
        except TimeoutError:
            # A stop that hangs is a bug of the gateway's: say what it waits for, not just "timeout".
            dump_tasks(f"the gateway did not stop within {STOP_PATIENCE:.0f} s")
            raise


def dump_tasks(why: str) -> None:
    """Every asyncio task and where it waits, on stderr (pytest shows it with the failure)."""
    print(f"\n=== {why}; tasks still running:", file=sys.stderr)
    for task in asyncio.all_tasks():
        print(f"--- {task!r}", file=sys.stderr)
        task.print_stack(limit=12, file=sys.stderr)


R = TypeVar("R", bound=Running)


def build_app(
    settings: Settings,
    *,
    triager: Triager | None = None,
    adapters: list[ChannelAdapter] | None = None,
    extensions: Iterable[Callable[[web.Application], object]] = (),
) -> web.Application:
    """``create_app`` with ``triager`` (none: the configuration's) and ``adapters`` (none: the
    configured channels), then each of ``extensions`` called with the app (before it starts)."""
    app = create_app(settings, triager=triager, adapters=adapters)
    for extend in extensions:
        extend(app)
    return app


@overload
async def start(
    settings: Settings,
    *,
    triager: Any = None,
    adapters: list[ChannelAdapter] | None = None,
    memory: bool = False,
    extensions: Iterable[Callable[[web.Application], object]] = (),
    serve: Literal["test", "port"] = "test",
    port: int = 0,
    cls: type[R],
    **server_options: Any,
) -> R: ...


@overload
async def start(
    settings: Settings,
    *,
    triager: Any = None,
    adapters: list[ChannelAdapter] | None = None,
    memory: bool = False,
    extensions: Iterable[Callable[[web.Application], object]] = (),
    serve: Literal["test", "port"] = "test",
    port: int = 0,
    **server_options: Any,
) -> Running: ...


async def start(
    settings: Settings,
    *,
    triager: Any = None,
    adapters: list[ChannelAdapter] | None = None,
    memory: bool = False,
    extensions: Iterable[Callable[[web.Application], object]] = (),
    serve: Literal["test", "port"] = "test",
    port: int = 0,
    cls: type[Running] = Running,
    **server_options: Any,
) -> Running:
    """Build the gateway (``build_app``; ``triager`` defaults to a ``KeywordTriager``, ``memory``
    adds a memory channel to ``adapters``) and start it: ``serve="test"`` in an aiohttp
    ``TestClient`` on 127.0.0.1:``port`` (0: a free one; ``server_options`` go to
    ``start_server``), ``"port"`` in an ``AppRunner`` on 127.0.0.1:``port`` as ``helpline serve``
    runs it (no access log)."""
    triager = KeywordTriager() if triager is None else triager
    await asyncio.to_thread(sqlite_template.seed, settings.database_url)
    if memory:
        adapters = [*(adapters or []), MemoryAdapter(pseudonym_key=settings.pseudonym_key)]
    app = build_app(settings, triager=triager, adapters=adapters, extensions=extensions)
    if serve == "port":
        # The shutdown patience of `helpline serve`: a connection accepted just as it stops (a
        # provider's delivery report, say) is cut after it, as in production, not after 60 s.
        runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT, **SERVER_OPTIONS)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
        except BaseException:
            await runner.cleanup()
            raise
        return cls(app, triager, runner=runner, base=f"http://127.0.0.1:{port}")
    server = TestServer(app, port=port or None)
    try:
        await server.start_server(**server_options)
    except BaseException:
        await server.close()
        raise
    client: TestClient[Any, Any] = TestClient(server)
    return cls(app, triager, client=client)


@contextlib.asynccontextmanager
async def loop_gaps(every: float = 0.0) -> AsyncIterator[list[float]]:
    """How long the event loop went between turns while the block ran: a task that sleeps
    ``every`` seconds at a time (what the rest of the process would be doing) notes each gap."""
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(every)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(tick())
    try:
        yield gaps
    finally:
        task.cancel()


@contextlib.asynccontextmanager
async def migrated_store(url: str) -> AsyncIterator[Database]:
    """A store on ``url`` with the migrations applied, closed on leaving."""
    await asyncio.to_thread(sqlite_template.seed, url)
    database = Database(url)
    await database.upgrade()
    try:
        yield database
    finally:
        await database.close()


@contextlib.asynccontextmanager
async def running(settings: Settings, **kw: Any) -> AsyncIterator[Running]:
    """``start`` as an async context manager: the gateway is closed on leaving."""
    gw = await start(settings, **kw)
    try:
        yield gw
    finally:
        await gw.close()


__all__ = [
    "CSRF_INPUT",
    "CSRF_META",
    "MEMORY_ONLY",
    "PASSWORD",
    "PLAIN_HTTP",
    "SECURE",
    "Browser",
    "KeywordTriager",
    "Running",
    "build_app",
    "make_settings",
    "migrated_store",
    "running",
    "start",
]
