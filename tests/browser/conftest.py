"""End-to-end fixtures: the real gateway (create_app, web chat + console) on a free port, and headless
Chromium driven by Playwright (Debian's /usr/bin/chromium; never ``playwright install``).

The server runs in the test process on the test's event loop; the browser is launched once per module.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from gateway.store.models import StaffUser
from tests.harness import PASSWORD as PASSWORD
from tests.harness import Running, login_in_page, make_settings, start

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WEBCHAT = Path(__file__).resolve().parents[2] / "bots" / "webchat" / "adapter.py"

if not WEBCHAT.exists():  # the web chat is built beside the console; these tests need it
    pytest.skip("bots/webchat/adapter.py is not there yet", allow_module_level=True)
if not shutil.which(CHROMIUM):
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

from playwright.async_api import Browser, BrowserContext, Page, async_playwright  # noqa: E402


class LiveGateway(Running):
    """The gateway on a real port (``base``), its channels from the configuration (the web chat)."""

    async def user(self, name: str, role: str = "counsellor", capacity: int = 3, **kw: Any) -> StaffUser:
        kw.setdefault("display_name", name.title())
        return await super().user(name, role, capacity, **kw)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest_asyncio.fixture(loop_scope="module")
async def gateway(tmp_path: Path, free_port: int) -> AsyncIterator[LiveGateway]:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'helpline.db'}",
        tmp_path,
        channels={"webchat": {"enabled": True}},
        **{"server.port": free_port},
    )
    gw = await start(settings, serve="port", port=free_port, cls=LiveGateway)
    try:
        yield gw
    finally:
        await gw.close()


class CuttableLink:
    """A TCP relay in front of the gateway whose connections the test can cut and restore.

    The visitor's browser talks to the gateway through it; ``cut()`` drops every open connection
    (as when a phone loses its network) and refuses new ones until ``restore()``.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.up = True
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._writers.difference_update((writer, up_writer))

    def cut(self) -> None:
        self.up = False
        for w in list(self._writers):
            transport = w.transport
            transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        self.up = True

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest_asyncio.fixture(loop_scope="module")
async def link(gateway: LiveGateway) -> AsyncIterator[CuttableLink]:
    port = int(gateway.base.rsplit(":", 1)[1])
    relay = CuttableLink(port)
    await relay.start()
    try:
        yield relay
    finally:
        await relay.close()


class Pages:
    """Browser contexts of one test (each context is a separate person: its own cookies and storage)."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.browser = browser
        self.base = base
        self.contexts: list[BrowserContext] = []

    async def new(
        self, width: int = 1280, height: int = 900, base: str | None = None
    ) -> tuple[BrowserContext, Page]:
        ctx = await self.browser.new_context(
            viewport={"width": width, "height": height}, base_url=base or self.base
        )
        ctx.set_default_timeout(8000)
        self.contexts.append(ctx)
        page = await ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors  # type: ignore[attr-defined]
        return ctx, page

    async def visitor(self, width: int = 1280, base: str | None = None) -> tuple[BrowserContext, Page]:
        ctx, page = await self.new(width=width, height=760, base=base)
        await page.goto("/chat")
        await page.wait_for_selector("#hl-input")
        return ctx, page

    async def counsellor(self, gateway: LiveGateway, name: str, **kw: Any) -> tuple[BrowserContext, Page]:
        await gateway.user(name, **kw)
        ctx, page = await self.new()
        await login_in_page(page, self.base, name)  # with the second step, for a supervisor
        await page.wait_for_url("**/console")
        await page.wait_for_selector("body[data-live='1']")
        return ctx, page

    async def close(self) -> None:
        for ctx in self.contexts:
            await ctx.close()


@pytest_asyncio.fixture(loop_scope="module")
async def pages(browser: Browser, gateway: LiveGateway) -> AsyncIterator[Pages]:
    p = Pages(browser, gateway.base)
    try:
        yield p
    finally:
        await p.close()
