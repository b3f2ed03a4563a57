"""``helpline retention run`` and ``helpline report``: through register() and as the real command."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from gateway.envelope import utcnow
from gateway.store.db import Database
from handoff.cli import register
from handoff.directory.models import DirectoryOverride, DirectoryVersion
from handoff.records.reports.service import PRIMARY
from tests.handoff.records.conftest import ContactRecord, add_conversation, add_user, count, create_tables
from tests.handoff.records.reports.test_service import END, START, generate

ROOT = Path(__file__).resolve().parents[2]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="helpline")
    p.add_argument("--config")
    register(p.add_subparsers(dest="command", required=True))
    return p


@pytest.fixture
def config(tmp_path: Path) -> Path:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def prepare() -> None:
        db = Database(url)
        try:
            await create_tables(db, migrations=True)
            await generate(db)
            async with db.session() as s:
                user = await add_user(s, "bo")
                await add_conversation(s, assigned_to=user.id, closed_at=utcnow() - timedelta(days=3))
        finally:
            await db.close()

    asyncio.run(prepare())
    path = tmp_path / "helpline.yml"
    path.write_text(f"database_url: '{url}'\ndata_dir: '{tmp_path / 'data'}'\n", encoding="utf-8")
    return path


def run(config: Path, *argv: str) -> int:
    args = parser().parse_args(["--config", str(config), *argv])
    code: int = args.func(args)
    return code


def test_report_json_and_csv(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    period = ["--from", START.isoformat(), "--to", END.isoformat()]
    assert run(config, "report", *period, "--format", "json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"] == 31 and report["period"] == {"from": "2025-03-03", "to": "2025-03-16"}

    assert run(config, "report", *period, "--format", "csv", "--municipality", "kunskapshus-orebro") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0].keys() == {"section", "dimension", "key", "label_sv", "label_en", "value"}
    assert {"section": "total", "value": "12"}.items() <= next(
        r for r in rows if r["section"] == "total"
    ).items()


def test_report_html_to_file(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert run(config, "report", "--evaluation", "--format", "html", "--out", str(out)) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "Pilot evaluation" in page


def test_retention_dry_run_then_run(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config, "retention", "run", "--dry-run") == 0
    dry = capsys.readouterr().out
    assert "dry run, nothing changed" in dry and "contact records: 1\n" in dry
    assert run(config, "retention", "run") == 0
    done = capsys.readouterr().out
    assert "utförd / done" in done and "contact records: 1\n" in done

    async def left() -> int:
        db = Database(f"sqlite+aiosqlite:///{config.parent / 'cli.db'}")
        try:
            async with db.session() as s:
                return await count(s, ContactRecord)
        finally:
            await db.close()

    assert asyncio.run(left()) == 0  # the 31 generated conversations had no contact records


def test_helpline_command_has_the_subcommands(config: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env = {k: v for k, v in env.items() if not k.startswith("HELPLINE_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "--config",
            str(config),
            "report",
            "--from",
            "2025-03-03",
            "--to",
            "2025-03-16",
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("section,dimension,key,label_sv,label_en,value")
    bad = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--config", str(config), "report", "--format", "csv"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "--from" in bad.stderr


def test_a_local_report_follows_the_admins_edit_of_an_area(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An admin moved Örebro municipality out of Kunskapshus Örebro's area (stored in the database,
    as the directory page does): the report of that Kunskapshus no longer counts Örebro's 12."""

    async def edit() -> None:
        db = Database(f"sqlite+aiosqlite:///{config.parent / 'cli.db'}")
        try:
            async with db.session() as s:
                s.add(
                    DirectoryOverride(
                        recipient_id="kunskapshus-orebro",
                        data={"serves": {"counties": [], "municipalities": ["1881", "1882", "1883"]}},
                        revision=1,
                        updated_at=utcnow(),
                    )
                )
                await s.execute(update(DirectoryVersion).values(version=DirectoryVersion.version + 1))
        finally:
            await db.close()

    period = ["--from", START.isoformat(), "--to", END.isoformat()]
    args = ["report", *period, "--format", "json", "--municipality", "kunskapshus-orebro"]
    assert run(config, *args) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 12
    asyncio.run(edit())
    assert run(config, *args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["area"]["municipalities"] == ["1881", "1882", "1883"]
    assert report["total"] == PRIMARY  # none there: shown as "<5"
