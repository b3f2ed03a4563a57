"""A gateway like ``conftest.start_env`` but with configuration of its own (``handoff.*`` keys) and
a chosen directory, for the directory admin and the disclosures passed by phone; two of them may
share one PostgreSQL database, like two gateway processes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller
from sqlalchemy import select

from bots.memory import MemoryAdapter
from gateway.app import create_app
from gateway.store.models import StaffUser
from handoff.directory.catalog import Directory
from handoff.directory.live import directory_service
from handoff.referrals.options import HandoffOptions
from handoff.referrals.web_base import HANDOFF_OPTIONS
from tests.core.conftest import KeywordTriager, make_settings

from .conftest import (
    SECRETS,
    Env,
    MailBox,
    Receiver,
    Staff,
    _free_port,
    _receiver_app,
    handoff_directory,
    stop_env,
)


async def start(
    db_url: str,
    tmp_path: Path,
    *,
    settings: dict[str, Any] | None = None,
    directory: Directory | None = None,
    **option_changes: Any,
) -> Env:
    """A running gateway; ``settings`` are dotted configuration keys (``handoff.recipient_methods``),
    ``directory`` replaces the test directory of ``conftest.handoff_directory``."""
    receiver = Receiver()
    receiver.server = TestServer(_receiver_app(receiver))
    await receiver.server.start_server()
    mailbox = MailBox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    config = make_settings(db_url, tmp_path, **(settings or {}))
    memory = MemoryAdapter(pseudonym_key=config.pseudonym_key)
    app = create_app(config, triager=KeywordTriager(), adapters=[memory])
    options = HandoffOptions(
        reminder_after=timedelta(hours=1),
        reminder_check_seconds=3600.0,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        mail_from="stodlinjen@helpline.example",
        webhook_secrets=SECRETS,
        webhook_attempts=3,
        webhook_backoff=0.02,
        webhook_max_backoff=0.1,
        webhook_timeout=5.0,
    )
    app[HANDOFF_OPTIONS] = options.replace(**option_changes)
    directory_service(app).start_from(
        directory if directory is not None else handoff_directory(receiver),
        app[HANDOFF_OPTIONS].webhook_secrets,
    )
    server = TestServer(app)
    await server.start_server()
    env = Env(server, memory, receiver, mailbox, aiohttp.ClientSession(), app[HANDOFF_OPTIONS])
    env._smtp = smtp  # type: ignore[attr-defined]
    return env


async def stop(env: Env) -> None:
    await stop_env(env)


async def same_person_in(other: Env, staff: Staff) -> Staff:
    """The same signed-in staff member (their session is in the shared database) at another gateway."""
    async with other.db.session() as session:
        user = (await session.execute(select(StaffUser).where(StaffUser.id == staff.user.id))).scalar_one()
    return Staff(other, user, staff.token, staff.csrf)


__all__ = ["same_person_in", "start", "stop"]
