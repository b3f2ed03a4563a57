"""Safe defaults: Secure console cookies unless in development (the password policy is in
test_passwords.py, the data dir's modes in test_private_files.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import load_settings
from gateway.errors import ConfigError


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
