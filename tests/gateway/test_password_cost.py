"""argon2's cost comes from the configuration, defaults to RFC 9106's low-memory profile, is refused
below it outside development, is raised on old hashes at their next login, and a login's argon2 runs
beside the event loop instead of stalling every socket of the process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway import auth
from gateway.config import load_settings
from gateway.errors import ConfigError
from gateway.store.db import Database
from gateway.store.models import StaffUser

PASSWORD = "correct horse battery"
CHEAP = auth.HashCost(1, 8, 1)


@pytest.fixture(autouse=True)
def restore_cost() -> Iterator[None]:
    before = auth.hashing_cost()
    yield
    auth.configure_hashing(before)


def test_the_default_cost_is_rfc_9106s_low_memory_profile(tmp_path: Path) -> None:
    settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path)})
    assert auth.HashCost.from_settings(settings) == auth.HashCost(3, 65536, 4)
    auth.configure_hashing(auth.HashCost.from_settings(settings))
    assert auth.hash_password(PASSWORD).startswith("$argon2id$v=19$m=65536,t=3,p=4$")


@pytest.mark.parametrize(
    ("key", "value"),
    [("console.password_time_cost", 2), ("console.password_memory_kib", 32768)],
)
def test_a_weaker_cost_is_refused_outside_development(tmp_path: Path, key: str, value: int) -> None:
    overrides = {"data_dir": str(tmp_path), key: value}
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings(environ={}, overrides=overrides)
    load_settings(environ={}, overrides={**overrides, "development": True, "console.secure_cookies": False})


def test_memory_below_argon2s_minimum_is_refused_even_in_development(tmp_path: Path) -> None:
    overrides = {
        "data_dir": str(tmp_path),
        "development": True,
        "console.password_parallelism": 4,
        "console.password_memory_kib": 16,
    }
    with pytest.raises(ConfigError, match="password_memory_kib"):
        load_settings(environ={}, overrides=overrides)


async def test_a_raised_cost_rehashes_the_password_at_the_next_login(db: Database) -> None:
    auth.configure_hashing(CHEAP)
    async with db.session() as s:
        await auth.create_user(s, "anna", PASSWORD, "counsellor")
    auth.configure_hashing(auth.HashCost(2, 64, 1))
    async with db.session() as s:
        result = await auth.login(s, "anna", PASSWORD, auth.LoginPolicy())
    assert result.user is not None
    async with db.session() as s:
        stored = (await s.execute(select(StaffUser.password_hash))).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=64,t=2,p=1$")
    assert auth.verify_password(stored, PASSWORD)


async def test_a_login_at_full_cost_does_not_stall_the_event_loop(db: Database) -> None:
    auth.configure_hashing(auth.HashCost())
    async with db.session() as s:
        await auth.create_user(s, "anna", PASSWORD, "counsellor")
    longest = 0.0
    done = False

    async def tick() -> None:
        nonlocal longest
        last = time.monotonic()
        while not done:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            longest = max(longest, now - last)
            last = now

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    for password in (PASSWORD, "not the password at all"):
        async with db.session() as s:
            await auth.login(s, "anna", password, auth.LoginPolicy())
    took = time.monotonic() - started
    done = True
    await ticker
    # Two argon2 verifications at 64 MiB take a good tenth of a second each; the loop went on.
    assert took > 0.1
    assert longest < 0.05, f"the loop stood still {longest * 1000:.0f} ms during a login"
