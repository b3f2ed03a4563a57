"""``helpline retention run [--dry-run]`` and ``helpline report``.

``helpline report --from 2026-01-01 --to 2026-03-31 --format html --out q1.html``
``helpline report --from ... --to ... --format json --municipality 1880`` (a local picture; also a
Kunskapshus id such as ``kunskapshus-orebro`` or a county code such as ``18``)
``helpline report --evaluation --format html`` (the pilot evaluation over the service's lifetime)

Dates are Swedish days (Europe/Stockholm): ``--from 2026-03-29`` begins at midnight Stockholm time
(23:00 UTC the day before); weeks and months are those of the Stockholm date.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path
from typing import Any

from gateway.config import Settings, load_settings
from gateway.envelope import utcnow
from gateway.errors import ConfigError
from gateway.store.db import Database


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def cmd_retention_run(args: argparse.Namespace) -> int:
    from handoff.records.retention import RetentionPolicy, run_retention

    settings = _settings(args)
    policy = RetentionPolicy.from_config(settings.section("retention"))

    async def run() -> list[str]:
        db = Database(settings.database_url)
        try:
            await db.upgrade()
            report = await run_retention(db, policy, utcnow(), args.dry_run, trigger="manual")
            return report.lines()
        finally:
            await db.close()

    for line in asyncio.run(run()):
        print(line)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from handoff.records.reports import service as reports

    if not args.evaluation and (args.date_from is None or args.date_to is None):
        raise ConfigError("--from/--to", "give both dates (YYYY-MM-DD), or --evaluation")
    from handoff.directory.service import stored_directory

    settings = _settings(args)

    async def run() -> dict[str, Any]:
        db = Database(settings.database_url)
        try:
            await db.upgrade()
            # The directory with the admins' edits: a Kunskapshus's area as the gateways use it.
            directory = await stored_directory(db)
            area = None
            if args.municipality:
                area = reports.resolve_area(args.municipality, directory)
                if area is None:
                    raise ConfigError(
                        "--municipality", f"{args.municipality!r} is no municipality, Kunskapshus or county"
                    )
            if args.evaluation:
                return await reports.build_evaluation(db, directory=directory)
            if args.date_to < args.date_from:
                raise ConfigError("--to", "is before --from")
            return await reports.build_report(
                db, args.date_from, args.date_to, area=area, directory=directory
            )
        finally:
            await db.close()

    text = reports.render(asyncio.run(run()), args.format)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def register(subparsers: Any) -> None:
    retention = subparsers.add_parser("retention", help="retention of personal data (gallring)")
    rsub = retention.add_subparsers(dest="retention_command", required=True)
    run = rsub.add_parser("run", help="purge what the retention rules say is due")
    run.add_argument("--dry-run", action="store_true", help="only count what would be purged")
    run.add_argument("--config", default=argparse.SUPPRESS)
    run.set_defaults(func=cmd_retention_run)

    report = subparsers.add_parser("report", help="aggregate report for a period (small cells suppressed)")
    report.add_argument(
        "--from", dest="date_from", type=_date, help="first day, YYYY-MM-DD (Europe/Stockholm)"
    )
    report.add_argument(
        "--to", dest="date_to", type=_date, help="last day, YYYY-MM-DD (Europe/Stockholm), included"
    )
    report.add_argument("--format", choices=("html", "csv", "json"), default="html")
    report.add_argument("--out", help="write to this file instead of standard output")
    report.add_argument("--municipality", help="local picture: municipality code, Kunskapshus id or county")
    report.add_argument("--evaluation", action="store_true", help="pilot evaluation over the whole lifetime")
    report.add_argument("--config", default=argparse.SUPPRESS)
    report.set_defaults(func=cmd_report)

    from handoff.phone.replay import register as register_phone

    register_phone(subparsers)


__all__ = ["register"]
