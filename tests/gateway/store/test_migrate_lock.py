"""Processes that start together on one empty database all upgrade it: migrations take turns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import postgres_database

PROCESSES = 4


def _upgrade_together(env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "db", "upgrade"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def _clean_env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    return {**clean, "HELPLINE_DATA_DIR": str(tmp_path / "data")}


@pytest.mark.parametrize("attempt", range(3))
def test_processes_upgrading_one_empty_sqlite_data_dir_at_once_all_succeed(
    tmp_path: Path, attempt: int
) -> None:
    results = _upgrade_together(_clean_env(tmp_path))
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
        assert "up to date" in result.stdout
        assert "already exists" not in result.stderr


@pytest.mark.postgres
@pytest.mark.parametrize("attempt", range(2))
async def test_processes_upgrading_one_empty_postgres_database_at_once_all_succeed(
    tmp_path: Path, attempt: int
) -> None:
    async with postgres_database() as url:
        results = _upgrade_together({**_clean_env(tmp_path), "HELPLINE_DATABASE_URL": url})
        for result in results:
            assert result.returncode == 0, result.stderr[-2000:]
            assert "up to date" in result.stdout
