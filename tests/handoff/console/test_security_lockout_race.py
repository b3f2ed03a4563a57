"""The login lockout counts every wrong password, also when they arrive at once, and tells no names."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.store.models import StaffUser
from tests.handoff.console.conftest import start_console, stop_console

ATTEMPTS = 5


@pytest.mark.parametrize("concurrent", [6, 8])
async def test_concurrent_wrong_passwords_lock_the_account(
    db_url: str, tmp_path: Path, concurrent: int
) -> None:
    console = await start_console(db_url, tmp_path, **{"console.lockout_attempts": ATTEMPTS})
    try:
        await console.user("anna")
        browsers = [console.browser() for _ in range(concurrent)]
        answers = await asyncio.gather(
            *(b.login("anna", f"wrong password {i}") for i, b in enumerate(browsers))
        )
        assert [a.status for a in answers] == [401] * concurrent
        # The right password no longer opens the account: the concurrent failures all counted.
        right = await console.browser().login("anna")
        assert right.status == 401
        async with console.db.session() as s:
            user = (await s.execute(select(StaffUser).where(StaffUser.username == "anna"))).scalar_one()
        assert user.locked_until is not None
    finally:
        await stop_console(console)


def _without_token(html: str) -> str:
    return re.sub(r'value="[^"]{20,}"', 'value=""', html)


async def test_unknown_and_locked_names_get_the_same_answer(sqlite_url: str, tmp_path: Path) -> None:
    console = await start_console(sqlite_url, tmp_path, **{"console.lockout_attempts": 2})
    try:
        await console.user("anna")
        for i in range(2):
            await console.browser().login("anna", f"wrong password {i}")
        locked = await console.browser().login("anna")  # the right password, but locked
        unknown = await console.browser().login("nobody-here", "some password")
        wrong = await console.browser().login("anna", "wrong password again")
        assert locked.status == unknown.status == wrong.status == 401
        texts = [_without_token(await r.text()) for r in (locked, unknown, wrong)]
        assert texts[0] == texts[1] == texts[2]
    finally:
        await stop_console(console)
