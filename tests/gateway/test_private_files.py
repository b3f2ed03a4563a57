"""The data dir and what the gateway keeps in it are for its own user only (gateway/private_files.py)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path


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
