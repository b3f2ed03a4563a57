"""Safe defaults: Secure console cookies unless in development, a password policy with one maximum
at creation and login, and a data dir only the gateway's user can read."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.auth import LoginPolicy, create_user, login
from gateway.config import load_settings
from gateway.errors import ConfigError, InvalidInput
from gateway.store.db import Database


def test_console_cookies_are_secure_unless_development_is_said_explicitly(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert (
        load_settings(environ={}, overrides={"data_dir": data}).section("console")["secure_cookies"] is True
    )
    with pytest.raises(ConfigError, match=r"console\.secure_cookies"):
        load_settings(environ={}, overrides={"data_dir": data, "console.secure_cookies": False})
    dev = load_settings(
        environ={}, overrides={"data_dir": data, "development": True, "console.secure_cookies": False}
    )
    assert dev.section("console")["secure_cookies"] is False


@pytest.mark.parametrize(
    "password",
    ["elva tecken", "Password123!", "sommar2024!!", "qwertyuiop123", "123456789012345", "aaaaaaaaaaaaaa"],
)
async def test_short_and_common_passwords_are_refused(sqlite_url: str, password: str) -> None:
    db = Database(sqlite_url)
    try:
        await db.upgrade()
        async with db.session() as s:
            with pytest.raises(InvalidInput, match="password"):
                await create_user(s, "anna", password, "counsellor")
    finally:
        await db.close()


async def test_the_same_maximum_length_at_creation_and_login(sqlite_url: str) -> None:
    longest = "a good passphrase " * 56 + "abcdefgh"
    assert len(longest) == 1016 and len(longest + "12345678") == 1024
    longest += "12345678"
    db = Database(sqlite_url)
    try:
        await db.upgrade()
        async with db.session() as s:
            with pytest.raises(InvalidInput, match="at most 1024"):
                await create_user(s, "bo", longest + "x", "counsellor")
            await create_user(s, "anna", longest, "counsellor")
        async with db.session() as s:
            assert (await login(s, "anna", longest, LoginPolicy())).token
        async with db.session() as s:
            # Not cut to the first 1024 characters: a longer password is a wrong one.
            assert (await login(s, "anna", longest + "x", LoginPolicy())).error == "invalid"
    finally:
        await db.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_dir_is_0700_and_the_database_and_secrets_0600(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    data = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "db", "upgrade"],
        env={**clean, "HELPLINE_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert result.returncode == 0, result.stderr
    assert _mode(data) == 0o700
    assert _mode(data / "helpline.db") == 0o600
    assert _mode(data / "secrets.json") == 0o600
    for extra in data.iterdir():
        assert _mode(extra) & 0o077 == 0, extra.name
