"""Report periods, weeks and months are Stockholm ones: conversations near midnight around the
changes to and from summer time land on their Swedish day, ISO week and month."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from gateway.store.db import Database
from handoff.cli import register
from handoff.records.reports.service import (
    TIME_ZONE,
    build_evaluation,
    build_report,
    local_date,
    local_midnight,
    render,
)
from tests.handoff.records.conftest import add_conversation, add_user, create_tables
from tests.handoff.records.reports.test_service import dim


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# Summer time starts on Sunday 2026-03-29 at 02:00 CET, ends on Sunday 2026-10-25 at 03:00 CEST.
SPRING = {
    "sat_2330_cet": (utc(2026, 3, 28, 22, 30), 5),  # Sat 28 Mar 23:30 CET (week 13)
    "sun_0030_cet": (utc(2026, 3, 28, 23, 30), 6),  # Sun 29 Mar 00:30 CET (UTC: still the 28th)
    "sun_2330_cest": (utc(2026, 3, 29, 21, 30), 8),  # Sun 29 Mar 23:30 CEST
    "mon_0030_cest": (utc(2026, 3, 29, 22, 30), 7),  # Mon 30 Mar 00:30 CEST, week 14 (UTC: Sunday, week 13)
}
APRIL = {"apr_0030_cest": (utc(2026, 3, 31, 22, 30), 5)}  # Wed 1 Apr 00:30 CEST (UTC: 31 March)
AUTUMN = {
    "sun_0030_cest": (utc(2026, 10, 24, 22, 30), 5),  # Sun 25 Oct 00:30 CEST (UTC: Saturday the 24th)
    "sun_2330_cet": (utc(2026, 10, 25, 22, 30), 6),  # Sun 25 Oct 23:30 CET (the day has 25 hours)
    "mon_0030_cet": (utc(2026, 10, 25, 23, 30), 9),  # Mon 26 Oct 00:30 CET, week 44 (UTC: Sunday, week 43)
}


async def generate(db: Database, *groups: dict[str, tuple[datetime, int]]) -> None:
    async with db.session() as s:
        user = await add_user(s, "anna")
        for group in groups:
            for at, n in group.values():
                for _ in range(n):
                    await add_conversation(s, created_at=at, assigned_to=user.id, messages=())


def weekly(report: dict[str, object]) -> dict[str, object]:
    w = report["weekly"]
    assert isinstance(w, dict)
    return dict(zip(w["weeks"], w["totals"], strict=True))


def test_stockholm_days_begin_at_local_midnight_across_the_changes() -> None:
    assert local_midnight(date(2026, 3, 29)) == utc(2026, 3, 28, 23)
    assert local_midnight(date(2026, 3, 30)) == utc(2026, 3, 29, 22)  # a day of 23 hours
    assert local_midnight(date(2026, 10, 25)) == utc(2026, 10, 24, 22)
    assert local_midnight(date(2026, 10, 26)) == utc(2026, 10, 25, 23)  # a day of 25 hours
    assert local_date(utc(2026, 3, 28, 23, 30)) == date(2026, 3, 29)


async def test_a_day_at_the_start_of_summer_time_is_the_stockholm_day(store: Database) -> None:
    await generate(store, SPRING)
    report = await build_report(store, date(2026, 3, 29), date(2026, 3, 29))
    # 00:30 CET and 23:30 CEST on the 29th; not 23:30 CET on the 28th, nor 00:30 CEST on the 30th
    assert report["total"] == 6 + 8
    assert report["period"] == {"from": "2026-03-29", "to": "2026-03-29"}
    assert report["time_zone"]["name"] == TIME_ZONE == "Europe/Stockholm"
    assert weekly(report) == {"2026-W13": 14}

    three_days = await build_report(store, date(2026, 3, 28), date(2026, 3, 30))
    assert three_days["total"] == 26
    # Monday 00:30 CEST is week 14 in Sweden although it is still Sunday (week 13) in UTC
    assert weekly(three_days) == {"2026-W13": 5 + 6 + 8, "2026-W14": 7}
    assert dim(three_days, "channel")["webchat"] == 26


async def test_a_day_at_the_end_of_summer_time_has_25_hours(sqlite_store: Database) -> None:
    await generate(sqlite_store, AUTUMN)
    report = await build_report(sqlite_store, date(2026, 10, 25), date(2026, 10, 25))
    assert report["total"] == 5 + 6  # 00:30 CEST and 23:30 CET, both on Sunday the 25th
    assert weekly(report) == {"2026-W43": 11}
    both = await build_report(sqlite_store, date(2026, 10, 24), date(2026, 10, 26))
    assert weekly(both) == {"2026-W43": 11, "2026-W44": 9}
    monday = await build_report(sqlite_store, date(2026, 10, 26), date(2026, 10, 26))
    assert monday["total"] == 9


async def test_months_and_days_in_operation_are_stockholm_ones(sqlite_store: Database) -> None:
    await generate(sqlite_store, SPRING, APRIL, AUTUMN)
    report = await build_evaluation(sqlite_store, now=utc(2026, 11, 1, 12))
    assert report["period"] == {"from": "2026-03-28", "to": "2026-11-01"}
    months = dim(report, "month")
    assert months["2026-03"] == 26 and months["2026-04"] == 5 and months["2026-10"] == 20
    assert report["evaluation"]["days_in_operation"] == (date(2026, 11, 2) - date(2026, 3, 28)).days


async def test_every_format_states_the_time_zone(sqlite_store: Database) -> None:
    await generate(sqlite_store, SPRING)
    report = await build_report(sqlite_store, date(2026, 3, 28), date(2026, 3, 30))
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert {"section": "meta", "dimension": "time_zone", "value": "Europe/Stockholm"}.items() <= next(
        r for r in rows if r["dimension"] == "time_zone"
    ).items()
    assert [
        (r["dimension"], r["value"]) for r in rows if r["section"] == "weekly" and r["key"] == "total"
    ] == [
        ("2026-W13", "19"),
        ("2026-W14", "7"),
    ]
    page = render(report, "html")
    assert "(Europe/Stockholm)" in page and "svensk tid" in page and "Swedish time" in page
    assert '"Europe/Stockholm"' in render(report, "json")
    assert report["generated_at"].endswith(("+01:00", "+02:00"))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="helpline")
    p.add_argument("--config")
    register(p.add_subparsers(dest="command", required=True))
    return p


def _run(config: Path, argv: Iterable[str]) -> int:
    args = _parser().parse_args(["--config", str(config), *argv])
    code: int = args.func(args)
    return code


def test_helpline_report_from_to_are_stockholm_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def prepare() -> None:
        db = Database(url)
        try:
            await create_tables(db, migrations=True)
            await generate(db, SPRING)
        finally:
            await db.close()

    asyncio.run(prepare())
    config = tmp_path / "helpline.yml"
    config.write_text(f"database_url: '{url}'\ndata_dir: '{tmp_path / 'data'}'\n", encoding="utf-8")
    assert _run(config, ["report", "--from", "2026-03-29", "--to", "2026-03-29", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert next(r for r in rows if r["section"] == "total")["value"] == "14"
    assert next(r for r in rows if r["dimension"] == "time_zone")["value"] == "Europe/Stockholm"
