"""A running gateway with the handoff API, a real SMTP server (aiosmtpd), a real webhook receiver
(aiohttp, failing its first attempts when told to) and signed-in staff with their own sessions.

Shared by the referrals', the disclosures' and the directory admin's tests (``env``, ``env_any_db``),
so it sits in their common folder."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller
from sqlalchemy import select

from bots.memory import MemoryAdapter
from gateway import auth
from gateway.channel import ChannelAdapter
from gateway.envelope import utcnow
from gateway.pipeline import Pipeline
from gateway.store.db import Database
from gateway.store.models import AuditEvent, Base, StaffUser
from handoff.directory.catalog import Directory
from handoff.directory.entries import HandoffMethod
from handoff.directory.live import directory_service
from handoff.directory.loading import default_directory
from handoff.disclosures import models as disclosure_models
from handoff.referrals import models as referral_models
from handoff.referrals.options import HandoffOptions
from handoff.referrals.web_base import HANDOFF_OPTIONS
from tests.authenticator import finish_login
from tests.harness import PASSWORD, Running, make_settings, start

_ = (referral_models, disclosure_models)  # the tables are declared on Base when the module is imported

SECRETS = {"kunskapshus-goteborg": "kh-goteborg-secret", "polisen": "police-secret"}
KH_MAIL = "kunskapshus@goteborg.example"
SAPO_MAIL = "tips@sakerhetspolisen.example"


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        data = json.loads(self.body)
        assert isinstance(data, dict)
        return data


class Receiver:
    """A recipient's webhook endpoint: answers 503 to the first ``fail_first`` requests of a path."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.fail_first: dict[str, int] = {}
        self.server: TestServer | None = None
        self.changed = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.hits.append(Hit(request.path, dict(request.headers), body))
        self.changed.set()
        seen = sum(1 for h in self.hits if h.path == request.path)
        if seen <= self.fail_first.get(request.path, 0):
            return web.Response(status=503)
        return web.json_response({"ok": True})

    def of(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    def url(self, path: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(path))


class MailBox:
    """aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]


@dataclass
class Staff:
    """One signed-in staff member: their session cookie and CSRF token, like one browser."""

    env: Env
    user: StaffUser
    token: str
    csrf: str

    def _headers(self, csrf: bool) -> dict[str, str]:
        headers = {"Cookie": f"hl_console={self.token}"}
        if csrf:
            headers["X-CSRF-Token"] = self.csrf
        return headers

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.env.http.get(self.env.url(path), headers=self._headers(False)) as resp:
            return resp.status, await resp.json(content_type=None)

    async def post(self, path: str, body: Any = None, *, csrf: bool = True) -> tuple[int, Any]:
        async with self.env.http.post(
            self.env.url(path), json=body or {}, headers=self._headers(csrf)
        ) as resp:
            return resp.status, await resp.json(content_type=None)


@dataclass
class Env:
    """The gateway (``tests.harness``), the recipients' stand-ins and signed-in staff."""

    gateway: Running
    receiver: Receiver
    mailbox: MailBox
    smtp: Controller
    http: aiohttp.ClientSession
    options: HandoffOptions
    staff: list[Staff] = field(default_factory=list)

    @property
    def server(self) -> TestServer:
        return self.gateway.server

    @property
    def memory(self) -> MemoryAdapter:
        return self.gateway.memory

    @property
    def db(self) -> Database:
        return self.gateway.db

    @property
    def pipeline(self) -> Pipeline:
        return self.gateway.pipeline

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def signed_in(self, name: str, role: str = "counsellor", municipality: str | None = None) -> Staff:
        """A staff member, signed in through ``gateway.auth.login`` (the password hash is computed
        once per test run: argon2 is slow on purpose)."""
        async with self.db.session() as session:
            user = StaffUser(
                username=name,
                display_name=name,
                password_hash=password_hash(),
                role=role,
                municipality_code=municipality,
                capacity=10,
                language="sv",
                active=True,
                failed_logins=0,
                created_at=utcnow(),
            )
            session.add(user)
        async with self.db.session() as session:
            result = await auth.login(session, name, PASSWORD, auth.LoginPolicy())
        # A supervisor or admin enrols a second factor first, as at the console's login.
        result = await finish_login(self.db, self.gateway.settings, result)
        assert result.token and result.csrf
        staff = Staff(self, user, result.token, result.csrf)
        self.staff.append(staff)
        return staff

    async def person(self, address: str, text: str) -> str:
        return str((await self.memory.person_writes(address, text)).conversation_id)

    async def conversation_held_by(self, counsellor: Staff, address: str, text: str) -> str:
        conv_id = await self.person(address, text)
        await self.pipeline.staff.claim(conv_id, counsellor.user)
        return conv_id

    async def audit(self, conversation_id: str | None = None) -> list[AuditEvent]:
        async with self.db.session() as session:
            stmt = select(AuditEvent).order_by(AuditEvent.id)
            if conversation_id is not None:
                stmt = stmt.where(AuditEvent.conversation_id == conversation_id)
            return list((await session.execute(stmt)).scalars().all())

    async def actions(self, conversation_id: str | None = None) -> list[str]:
        return [e.action for e in await self.audit(conversation_id)]

    async def until(self, check: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Poll ``check`` (sync or async) until it returns something truthy."""
        async with asyncio.timeout(timeout):
            while True:
                value = check()
                if asyncio.iscoroutine(value):
                    value = await value
                if value:
                    return value
                await asyncio.sleep(0.02)


def handoff_directory(receiver: Receiver) -> Directory:
    """The shipped directory, with Kunskapshus Göteborg on portal + e-mail + webhook, the police on a
    webhook and the Security Service on e-mail."""
    base = default_directory()
    kh_methods = (
        HandoffMethod("portal"),
        HandoffMethod("email", address=KH_MAIL),
        HandoffMethod("webhook", url=receiver.url("/kunskapshus")),
    )
    houses = tuple(
        dataclasses.replace(k, recipient=dataclasses.replace(k.recipient, handoff=kh_methods))
        if k.id == "kunskapshus-goteborg"
        else k
        for k in base.kunskapshus
    )
    recipients = dict(base.recipients)
    recipients["polisen"] = dataclasses.replace(
        recipients["polisen"], handoff=(HandoffMethod("webhook", url=receiver.url("/polisen")),)
    )
    recipients["sakerhetspolisen"] = dataclasses.replace(
        recipients["sakerhetspolisen"], handoff=(HandoffMethod("email", address=SAPO_MAIL),)
    )
    return dataclasses.replace(base, kunskapshus=houses, recipients=recipients)


@functools.cache
def password_hash() -> str:
    return auth.hash_password(PASSWORD)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_env(
    db_url: str,
    tmp_path: Path,
    *,
    settings: dict[str, Any] | None = None,
    directory: Directory | None = None,
    webhook_attempts: int = 5,
    create_all: bool = True,
    adapters: list[ChannelAdapter] | None = None,
    **option_changes: Any,
) -> Env:
    """The gateway with handoff options pointing at a webhook receiver and an SMTP server of the
    test's own; ``settings`` are dotted configuration keys (``handoff.recipient_methods``),
    ``directory`` replaces the test directory of ``handoff_directory``, ``create_all`` creates every
    table of ``Base.metadata`` after the start; ``adapters`` are channels besides the memory channel."""
    receiver = Receiver()
    receiver.server = TestServer(_receiver_app(receiver))
    await receiver.server.start_server()
    mailbox = MailBox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    options = HandoffOptions(
        reminder_after=timedelta(hours=1),
        reminder_check_seconds=3600.0,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        mail_from="stodlinjen@helpline.example",
        webhook_secrets=SECRETS,
        webhook_attempts=webhook_attempts,
        webhook_backoff=0.02,
        webhook_max_backoff=0.1,
        webhook_timeout=5.0,
    ).replace(**option_changes)

    def handoff(app: web.Application) -> None:
        app[HANDOFF_OPTIONS] = options
        directory_service(app).start_from(
            directory if directory is not None else handoff_directory(receiver), options.webhook_secrets
        )

    gateway = await start(
        make_settings(db_url, tmp_path, **(settings or {})),
        adapters=adapters,
        memory=True,
        extensions=[handoff],
    )
    if create_all:
        async with gateway.db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    return Env(gateway, receiver, mailbox, smtp, aiohttp.ClientSession(), options)


def _receiver_app(receiver: Receiver) -> web.Application:
    app = web.Application()
    app.router.add_post("/{name}", receiver.handle)
    return app


async def stop_env(env: Env) -> None:
    await env.http.close()
    await env.gateway.close()
    assert env.receiver.server is not None
    await env.receiver.server.close()
    env.smtp.stop()


@pytest.fixture
async def env(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    e = await start_env(sqlite_url, tmp_path)
    try:
        yield e
    finally:
        await stop_env(e)


@pytest.fixture
async def env_any_db(db_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    """The same on SQLite and on PostgreSQL."""
    e = await start_env(db_url, tmp_path)
    try:
        yield e
    finally:
        await stop_env(e)
