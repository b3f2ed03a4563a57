"""Stockholm days, weeks and months, waiting-time statistics and counsellor hours."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from gateway.envelope import utcnow
from handoff.records.reports.data import PRIMARY, STOCKHOLM, THRESHOLD, Row

# ------------------------------------------------------------------------------------- building


def local_date(when: datetime) -> date:
    """The Stockholm date of an instant."""
    return when.astimezone(STOCKHOLM).date()


def local_today(now: datetime | None = None) -> date:
    return local_date(now or utcnow())


def local_midnight(day: date) -> datetime:
    """The instant (in UTC) at which ``day`` begins in Stockholm."""
    return datetime.combine(day, time.min, tzinfo=STOCKHOLM).astimezone(UTC)


def _iso_week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _iso_week(when: datetime) -> str:
    """The ISO week of an instant's Stockholm date."""
    return _iso_week_of(local_date(when))


def _days(start: datetime, end: datetime) -> list[date]:
    """The Stockholm dates of the period ``[start, end)`` (both Stockholm midnights)."""
    first, stop = local_date(start), local_date(end)
    return [first + timedelta(days=i) for i in range((stop - first).days)]


def _weeks(start: datetime, end: datetime) -> list[str]:
    out: list[str] = []
    for day in _days(start, end):
        key = _iso_week_of(day)
        if key not in out:
            out.append(key)
    return out


def _month(when: datetime) -> str:
    day = local_date(when)
    return f"{day.year}-{day.month:02d}"


def _months(start: datetime, end: datetime) -> list[str]:
    out: list[str] = []
    for day in _days(start, end):
        key = f"{day.year}-{day.month:02d}"
        if key not in out:
            out.append(key)
    return out


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def _wait_stats(waits: Sequence[float]) -> dict[str, Any]:
    n = len(waits)
    if n < THRESHOLD:
        return {"n": PRIMARY, "median_minutes": None, "p90_minutes": None}
    return {
        "n": n,
        "median_minutes": round(statistics.median(waits), 1),
        "p90_minutes": round(_percentile(waits, 0.9), 1),
    }


def _merge_hours(intervals: list[tuple[datetime, datetime]]) -> float:
    total = 0.0
    current: tuple[datetime, datetime] | None = None
    for a, b in sorted(intervals):
        if current is None or a > current[1]:
            if current is not None:
                total += (current[1] - current[0]).total_seconds()
            current = (a, b)
        else:
            current = (current[0], max(current[1], b))
    if current is not None:
        total += (current[1] - current[0]).total_seconds()
    return total / 3600


def counsellor_hours(rows: Iterable[Row], start: datetime, end: datetime, now: datetime) -> tuple[int, float]:
    """(conversations taken by a counsellor, counsellor hours) as defined in the module docstring.

    Only time that has passed counts: a conversation still open is held up to ``now`` or the end
    of the period, whichever is earlier (a report of the current month must not count its future
    days as hours worked)."""
    per: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    taken = 0
    until = min(end, now)
    for r in rows:
        if r.first_assigned_at is None or r.assigned_to is None:
            continue
        taken += 1
        a = max(r.first_assigned_at, start)
        b = min(r.closed_at or until, until)
        if b > a:
            per[r.assigned_to].append((a, b))
    return taken, sum(_merge_hours(iv) for iv in per.values())
