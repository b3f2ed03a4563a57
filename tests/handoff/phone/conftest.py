"""A running gateway with the phone's events endpoint on (its secret configured), the console and
the phone system's side: events signed as docs/phone.md says (:class:`PhoneSystem`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.envelope import utcnow
from handoff.phone.replay import encode, signed_headers
from tests.handoff.console.conftest import Console
from tests.harness import make_settings, start

SECRET = "pbx-shared-secret-for-tests"


class PhoneGateway(Console):
    """The console with the phone system that posts to it."""

    async def event(
        self,
        call_id: str,
        event: str,
        *,
        caller: str = "+46701740605",
        extension: str | None = None,
        at: datetime | None = None,
        secret: str = SECRET,
        timestamp: int | None = None,
        body: bytes | None = None,
        **extra: Any,
    ) -> tuple[int, dict[str, Any]]:
        """The phone system posts one event; the answer's status and JSON."""
        payload: dict[str, Any] = {
            "call_id": call_id,
            "event": event,
            "line": "stodlinjen",
            "caller": caller,
            "time": (at or utcnow()).isoformat(),
            **extra,
        }
        if extension is not None:
            payload["extension"] = extension
        raw = body if body is not None else encode(payload)
        async with aiohttp.ClientSession() as http:
            async with http.post(
                self.url("/channels/phone/events"),
                data=raw,
                headers=signed_headers(secret, raw, timestamp=timestamp),
            ) as resp:
                return resp.status, await resp.json(content_type=None)

    async def call(self, call_id: str, *events: str, extension: str | None = None, **kw: Any) -> str:
        """Several events of one call, a minute apart; its conversation's id."""
        start_at = utcnow() - timedelta(minutes=len(events))
        conv = ""
        for i, ev in enumerate(events):
            status, answer = await self.event(
                call_id,
                ev,
                extension=extension if ev == "answered" else None,
                at=start_at + timedelta(minutes=i),
                **kw,
            )
            assert status == 200, (ev, status, answer)
            conv = answer["conversation_id"]
        return conv


async def start_phone(db_url: str, tmp_path: Path, **extra: Any) -> PhoneGateway:
    settings = make_settings(db_url, tmp_path, **{"phone.events_secret": SECRET, **extra})
    return await start(settings, memory=True, cls=PhoneGateway)


@pytest.fixture
async def phone(sqlite_url: str, tmp_path: Path) -> AsyncIterator[PhoneGateway]:
    gw = await start_phone(sqlite_url, tmp_path)
    try:
        yield gw
    finally:
        await gw.close()


@pytest.fixture
async def phone_any_db(db_url: str, tmp_path: Path) -> AsyncIterator[PhoneGateway]:
    """The same on SQLite and on PostgreSQL."""
    gw = await start_phone(db_url, tmp_path)
    try:
        yield gw
    finally:
        await gw.close()


__all__ = ["SECRET", "PhoneGateway", "phone", "phone_any_db", "start_phone"]
