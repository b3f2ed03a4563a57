"""Building a report: every dimension, the weekly and monthly series, with suppression applied
(:func:`build_report`, :func:`build_evaluation`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from gateway.envelope import utcnow
from gateway.store.db import Database
from gateway.store.models import Conversation
from handoff.directory.catalog import Directory
from handoff.directory.loading import default_directory
from handoff.records.documentation import guidelines
from handoff.records.reports.data import (
    PRIMARY,
    SECONDARY,
    STOCKHOLM,
    THRESHOLD,
    TIME_ZONE,
    Area,
    Row,
    load_rows,
)
from handoff.records.reports.evaluation import evaluation_figures
from handoff.records.reports.periods import (
    _iso_week,
    _month,
    _months,
    _wait_stats,
    _weeks,
    counsellor_hours,
    local_date,
    local_midnight,
)
from handoff.records.reports.strings import (
    CALL_DURATION_BINS,
    CALL_OUTCOMES,
    CHANNELS,
    DIMENSION_LABELS,
    EXTRA,
    INTENT_PRIORITY,
    INTENTS,
    LANGUAGES,
    NOT_ANSWERED,
    NOT_ANSWERED_LABEL,
    NOT_DOCUMENTED,
    PRIORITIES,
    PRIORITY_KEYS,
    UNKNOWN,
    WAIT_BINS,
    Label,
    _l,
)
from handoff.records.reports.strings import label as text_label
from handoff.records.reports.suppression import CellId, Suppressor


class _Builder:
    def __init__(
        self,
        rows: list[Row],
        start: datetime,
        end: datetime,
        *,
        area: Area | None,
        directory: Directory,
        monthly: bool,
        now: datetime,
    ) -> None:
        self.rows = rows
        self.start = start
        self.end = end
        self.area = area
        self.directory = directory
        self.monthly = monthly
        self.now = now
        self.sup = Suppressor()
        self.total_id = self.sup.cell(("total",), len(rows))
        self.dims: list[tuple[str, list[tuple[str, Label, CellId]], CellId]] = []

    # dimensions -------------------------------------------------------------------------------
    def dimension(
        self,
        key: str,
        values: Mapping[str, int],
        labels: Mapping[str, Label],
        order: Sequence[str],
        total: CellId | None = None,
    ) -> None:
        cells: list[tuple[str, Label, CellId]] = []
        keys = list(order) + sorted(k for k in values if k not in order)
        for k in keys:
            label = labels.get(k) or EXTRA.get(k) or _l(k, k)
            cells.append((k, label, self.sup.cell(self.cell_id(key, k), int(values.get(k, 0)))))
        self.sup.line([c for _, _, c in cells])
        self.dims.append((key, cells, total or self.total_id))

    @staticmethod
    def cell_id(dim: str, key: str) -> CellId:
        """The same quantity in several dimensions is one cell, suppressed alike everywhere."""
        if key == NOT_DOCUMENTED:
            return (NOT_DOCUMENTED,)
        if key == UNKNOWN and dim in ("county", "municipality"):
            return ("area_unknown",)
        return (dim, key)

    def cells_of(self, dim: str) -> dict[str, CellId]:
        return {k: cid for dkey, cells, _ in self.dims if dkey == dim for k, _, cid in cells}

    def link_dimensions(self) -> None:
        """Sums across dimensions: a county is the sum of its municipalities; a priority is (in
        practice) the sum of the intents of that priority."""
        counties = self.cells_of("county")
        munis = self.cells_of("municipality")
        for code, cid in counties.items():
            members = [m for m, mid in munis.items() if m[:2] == code and m.isdigit() and len(m) == 4]
            if members:
                self.sup.line([cid, *(munis[m] for m in members)])
        priorities = self.cells_of("priority")
        intents = self.cells_of("intent")
        for level, key in enumerate(PRIORITY_KEYS):
            same = [intents[i] for i, p in INTENT_PRIORITY.items() if int(p) == level and i in intents]
            if key in priorities and same:
                self.sup.line([priorities[key], *same])

    def choice_labels(self, field_key: str) -> tuple[dict[str, Label], list[str]]:
        f = guidelines().field(field_key)
        return {c.value: _l(c.label_sv, c.label_en) for c in f.values}, list(f.allowed)

    def documented_counter(self, attr: str) -> Counter[str]:
        counts: Counter[str] = Counter()
        for r in self.rows:
            if not r.documented:
                counts[NOT_DOCUMENTED] += 1
                continue
            value = getattr(r, attr)
            if isinstance(value, bool):
                counts["yes" if value else "no"] += 1
            else:
                counts[value or UNKNOWN] += 1
        return counts

    def build_dimensions(self) -> None:
        national = self.area is None
        doc_extra = [NOT_DOCUMENTED] if national else []
        channels = Counter(r.channel for r in self.rows)
        self.dimension("channel", channels, CHANNELS, list(CHANNELS))
        languages = Counter(r.language if r.language in LANGUAGES else "und" for r in self.rows)
        self.dimension("language", languages, LANGUAGES, list(LANGUAGES))
        self.dimension(
            "priority",
            Counter(PRIORITY_KEYS[min(max(r.priority, 0), 3)] for r in self.rows),
            PRIORITIES,
            PRIORITY_KEYS,
        )
        self.dimension("intent", Counter(r.intent or "none" for r in self.rows), INTENTS, list(INTENTS)[:-1])
        for dim, attr in (
            ("contact_type", "contact_type"),
            ("environment", "environment"),
            ("age_group", "age_group"),
            ("gender", "gender"),
            ("outcome", "outcome"),
        ):
            labels, allowed = self.choice_labels(attr)
            self.dimension(dim, self.documented_counter(attr), labels, allowed + doc_extra)
        county_labels = {c.code: _l(c.name, c.name) for c in self.directory.counties()}
        self.dimension("county", self.documented_counter("county_code"), county_labels, [])
        muni_labels = {m.code: _l(m.name, m.name) for m in self.directory.municipalities.values()}
        muni_order: list[str] = []
        if self.area is not None and len(self.area.codes) <= 60:
            muni_order = sorted(self.area.codes, key=lambda c: muni_labels.get(c, _l(c, c))["sv"])
        self.dimension("municipality", self.documented_counter("municipality_code"), muni_labels, muni_order)
        for dim in ("referral_made", "crime_info_passed"):
            self.dimension(dim, self.documented_counter(dim), {}, ["yes", "no", *doc_extra])
        self.link_dimensions()

    # weekly by channel --------------------------------------------------------------------------
    def build_weekly(self) -> tuple[list[str], list[str], dict[tuple[str, str], CellId], dict[str, CellId]]:
        """Weekly counts per channel and weekly totals (ISO weeks of Stockholm dates)."""
        weeks = _weeks(self.start, self.end)
        channel_cells = self.cells_of("channel")
        channels = list(channel_cells)
        counts = Counter((_iso_week(r.created_at), r.channel) for r in self.rows)
        cells: dict[tuple[str, str], CellId] = {}
        totals: dict[str, CellId] = {}
        for w in weeks:
            for c in channels:
                cells[(w, c)] = self.sup.cell(("weekly", w, c), counts.get((w, c), 0))
            totals[w] = self.sup.cell(("week_total", w), sum(counts.get((w, c), 0) for c in channels))
        for c in channels:  # each channel's weeks sum to the channel's published count
            self.sup.line([cells[(w, c)] for w in weeks] + [channel_cells[c]])
        for w in weeks:  # a week's channels sum to the week's total
            self.sup.line([cells[(w, c)] for c in channels] + [totals[w]])
        self.sup.line([totals[w] for w in weeks])  # the weeks sum to the total
        return weeks, channels, cells, totals

    # waiting ------------------------------------------------------------------------------------
    def build_waiting(self) -> CellId:
        queued = [r for r in self.rows if r.queued_at is not None]
        n_id = self.sup.cell(("queued",), len(queued))
        counts: Counter[str] = Counter()
        for r in queued:
            wait = r.wait_minutes
            if wait is None:
                counts[NOT_ANSWERED] += 1
                continue
            counts[next(key for key, upper, _ in WAIT_BINS if wait < upper)] += 1
        labels = {key: label for key, _, label in WAIT_BINS}
        labels[NOT_ANSWERED] = NOT_ANSWERED_LABEL
        self.dimension("waiting", counts, labels, [*labels], total=n_id)
        return n_id

    # phone calls (handoff.phone) --------------------------------------------------------------
    def build_calls(self) -> dict[str, Any]:
        """Calls by outcome and answered calls by length, suppressed like every cell; answer times
        and lengths as medians only from five calls on."""
        calls = [r for r in self.rows if r.channel == "phone" and r.call_outcome is not None]
        calls_id = self.sup.cell(("calls",), len(calls))
        self.dimension(
            "call_outcome",
            Counter(r.call_outcome or "" for r in calls),
            CALL_OUTCOMES,
            [*CALL_OUTCOMES],
            calls_id,
        )
        answered = [r for r in calls if r.call_outcome == "answered" and r.call_seconds is not None]
        answered_id = self.sup.cell(("calls_answered",), len(answered))
        lengths: Counter[str] = Counter()
        for r in answered:
            minutes = (r.call_seconds or 0) / 60
            lengths[next(key for key, upper, _ in CALL_DURATION_BINS if minutes < upper)] += 1
        labels = {key: label for key, _, label in CALL_DURATION_BINS}
        self.dimension("call_duration", lengths, labels, [*labels], answered_id)
        answer_times = [r.call_answer_seconds / 60 for r in calls if r.call_answer_seconds is not None]
        return {
            "calls_id": calls_id,
            "answer_time": _wait_stats(answer_times),
            "duration": _wait_stats([(r.call_seconds or 0) / 60 for r in answered]),
        }

    def build_months(self) -> None:
        counts = Counter(_month(r.created_at) for r in self.rows)
        months = _months(self.start, self.end)
        self.dimension("month", counts, {m: _l(m, m) for m in months}, months)

    # result -------------------------------------------------------------------------------------
    def build(self) -> dict[str, Any]:
        self.build_dimensions()
        weeks, channels, weekly_cells, week_totals = self.build_weekly()
        queued_id = self.build_waiting()
        calls = self.build_calls()
        if self.monthly:
            self.build_months()
        shown = self.sup.solve()

        dimensions: list[dict[str, Any]] = []
        for key, cells, total in self.dims:
            dimensions.append(
                {
                    "key": key,
                    "label": DIMENSION_LABELS[key],
                    "total": shown[total],
                    "cells": [{"key": k, "label": label, "value": shown[cid]} for k, label, cid in cells],
                }
            )
        waits = [w for r in self.rows if (w := r.wait_minutes) is not None]
        critical = [w for r in self.rows if r.priority >= 3 and (w := r.wait_minutes) is not None]
        taken, hours = counsellor_hours(self.rows, self.start, self.end, self.now)
        per_hour = round(taken / hours, 2) if taken >= THRESHOLD and hours > 0 else None
        return {
            "total": shown[self.total_id],
            "dimensions": dimensions,
            "weekly": {
                "weeks": weeks,
                "channels": [{"key": c, "label": CHANNELS.get(c, _l(c, c))} for c in channels],
                "values": [[shown[weekly_cells[(w, c)]] for c in channels] for w in weeks],
                "totals": [shown[week_totals[w]] for w in weeks],
            },
            "waiting": {
                "queued": shown[queued_id],
                "overall": _wait_stats(waits),
                "critical": _wait_stats(critical),
            },
            "calls": {
                "total": shown[calls["calls_id"]],
                "answer_time": calls["answer_time"],
                "duration": calls["duration"],
            },
            "counsellors": {
                "conversations_taken": taken if taken >= THRESHOLD else PRIMARY,
                "counsellor_hours": round(hours, 1),
                "conversations_per_counsellor_hour": per_hour,
                "definition": text_label("report.counsellor_hours_definition"),
            },
        }


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The instants (UTC) at which Stockholm's ``start`` day begins and its ``end`` day ends."""
    if end < start:
        raise ValueError("the period ends before it starts")
    return local_midnight(start), local_midnight(end + timedelta(days=1))


def _header(kind: str, start: datetime, end: datetime, area: Area | None, now: datetime) -> dict[str, Any]:
    titles = {
        "period": text_label("report.title.period"),
        "local": text_label("report.title.local"),
        "evaluation": text_label("report.title.evaluation"),
    }
    return {
        "kind": kind,
        "title": titles[kind],
        "period": {
            "from": local_date(start).isoformat(),
            "to": (local_date(end) - timedelta(days=1)).isoformat(),
        },
        "area": (
            {"id": area.id, "kind": area.kind, "name": area.name, "municipalities": sorted(area.codes)}
            if area is not None
            else None
        ),
        "generated_at": now.astimezone(STOCKHOLM).isoformat(timespec="seconds"),
        "time_zone": {
            "name": TIME_ZONE,
            "note": text_label("report.time_zone_note"),
        },
        "suppression": {
            "threshold": THRESHOLD,
            "primary": PRIMARY,
            "secondary": SECONDARY,
            "note": text_label("report.suppression_note"),
        },
    }


async def build_report(
    db: Database,
    start: date,
    end: date,
    *,
    area: Area | None = None,
    directory: Directory | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The period report (``area=None``) or a local situational picture, as a JSON-able dict."""
    lo, hi = _bounds(start, end)
    async with db.session() as session:
        rows = await load_rows(session, lo, hi, area)
    d = directory if directory is not None else default_directory()
    now = now or utcnow()
    body = _Builder(rows, lo, hi, area=area, directory=d, monthly=False, now=now).build()
    return {**_header("local" if area else "period", lo, hi, area, now), **body}


async def build_evaluation(
    db: Database, *, now: datetime | None = None, directory: Directory | None = None
) -> dict[str, Any]:
    """The pilot evaluation: the whole lifetime of the service, with evaluation figures."""
    now = now or utcnow()
    async with db.session() as session:
        first = (await session.execute(select(func.min(Conversation.created_at)))).scalar_one_or_none()
        first_day = local_date(first or now)
        lo, hi = _bounds(first_day, max(local_date(now), first_day))
        rows = await load_rows(session, lo, hi, None)
    d = directory if directory is not None else default_directory()
    body = _Builder(rows, lo, hi, area=None, directory=d, monthly=True, now=now).build()
    report = {**_header("evaluation", lo, hi, None, now), **body}
    report["evaluation"] = evaluation_figures(report, lo, hi)
    return report
