"""Aggregate reports: knowledge passed on without exposing anyone.

Three kinds, each as JSON, CSV or HTML (inline SVG charts, print CSS):

* a **period report** (``build_report(db, start, end)``): every conversation started in the period;
* a **local situational picture** (``area=`` a municipality, a Kunskapshus or a county): only the
  documented conversations whose documented municipality lies in that area;
* a **pilot evaluation** (``build_evaluation``): the whole lifetime of the service plus evaluation
  figures.

What is counted
---------------
Every dimension is a partition of the conversations of the report (so every dimension sums to the
published total): channel, priority, intent (the one that gave the conversation its priority),
and from the documentation record contact type, environment of concern, age group and gender of
the person of concern, county, municipality, outcome, referral made and crime information passed;
conversations without a record are counted as ``not_documented`` (``unknown`` when documented
without a municipality, age group or gender).

Days, weeks and months are Swedish ones (:data:`TIME_ZONE`, Europe/Stockholm, with its summer
time): ``--from 2026-03-29`` starts at midnight Stockholm time (23:00 UTC the day before), a day
of the change to or from summer time has 23 or 25 hours, and a conversation belongs to the ISO week
and month of its Stockholm date.  Every report names the time zone.

Waiting time is ``queued_at -> first_assigned_at`` (median and 90th percentile, nearest rank, in
minutes), overall and for critical conversations; the distribution counts queued conversations by
waiting time, with ``not_answered`` for those no counsellor took.

Counsellor hours: for each counsellor, the union of the intervals during which they held a
conversation (``first_assigned_at`` to ``closed_at``, or the end of the period if still open,
clipped to the period; the conversation is credited to the counsellor who held it last).
Overlapping conversations count once, so an hour with three chats at once is one counsellor hour.
Conversations per counsellor hour = conversations taken by a counsellor / counsellor hours.

Disclosure control
------------------
* Primary suppression: every cell below 5 (zero included) is shown as ``"<5"``.
* Secondary suppression: for every published sum (each dimension against the total, each
  channel's weekly cells against the channel's count, each week's cells against the week's total,
  the weeks' totals against the total, a county against its
  municipalities, a priority against its intents, the waiting-time distribution against the
  number queued, the monthly series) a sum with exactly one unknown cell would give that cell
  away, so the smallest remaining cell of that sum is suppressed too, shown as ``".."``
  (Statistics Sweden's sign for "not published"), until no sum leaves exactly one unknown cell
  that holds someone.  A hidden zero that can be worked out protects nobody and is not covered
  (it then counts as known in every other sum).  The same quantity in several dimensions
  ("not documented", "no municipality") is one cell, hidden alike everywhere.  Waiting-time figures and rates of a group smaller than 5 are not published;
  evaluation rates are computed only from published numbers.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.envelope import utcnow
from gateway.store.db import Database
from gateway.store.models import Conversation
from handoff.directory.catalog import Directory
from handoff.directory.loading import default_directory
from handoff.records.documentation import guidelines
from handoff.records.models import DocumentationRecord

THRESHOLD = 5
TIME_ZONE = "Europe/Stockholm"
STOCKHOLM = ZoneInfo(TIME_ZONE)
PRIMARY = "<5"
SECONDARY = ".."
TEMPLATES = Path(__file__).parent / "report_templates"
FORMATS = ("json", "csv", "html")

Label = dict[str, str]


def _l(sv: str, en: str) -> Label:
    return {"sv": sv, "en": en}


CHANNELS: dict[str, Label] = {
    "webchat": _l("Webbchatt", "Web chat"),
    "email": _l("E-post", "E-mail"),
    "telegram": _l("Telegram", "Telegram"),
    "xmpp": _l("XMPP", "XMPP"),
}
PRIORITIES: dict[str, Label] = {
    "low": _l("Låg", "Low"),
    "normal": _l("Normal", "Normal"),
    "high": _l("Hög", "High"),
    "critical": _l("Akut", "Critical"),
}
PRIORITY_KEYS = ("low", "normal", "high", "critical")
INTENTS: dict[str, Label] = {
    "urgent_threat": _l("Akut hot", "Urgent threat"),
    "self_harm": _l("Risk för självskada", "Self-harm"),
    "travel_conflict": _l("Resa till konfliktområde", "Travel to a conflict zone"),
    "leave_movement": _l("Vill lämna en miljö", "Wants to leave a movement"),
    "concern_relative": _l("Oro för anhörig", "Concern for a relative"),
    "concern_professional": _l("Oro i yrket", "Concern as a professional"),
    "human_request": _l("Vill prata med en person", "Asked for a person"),
    "info_request": _l("Fråga om information", "Information request"),
    "greet": _l("Hälsning", "Greeting"),
    "goodbye": _l("Avslutning", "Goodbye"),
    "out_of_scope": _l("Utanför uppdraget", "Out of scope"),
    "none": _l("Ingen", "None"),
}
# The priority each intent gives (as nlu.result.INTENT_PRIORITY; handoff does not import nlu):
# links the priority and intent dimensions for secondary suppression.
INTENT_PRIORITY: dict[str, int] = {
    "urgent_threat": 3,
    "self_harm": 3,
    "travel_conflict": 2,
    "leave_movement": 2,
    "concern_relative": 1,
    "concern_professional": 1,
    "human_request": 1,
    "info_request": 0,
    "greet": 0,
    "goodbye": 0,
    "out_of_scope": 0,
}
NOT_DOCUMENTED = "not_documented"
UNKNOWN = "unknown"
EXTRA: dict[str, Label] = {
    NOT_DOCUMENTED: _l("Ej dokumenterat", "Not documented"),
    UNKNOWN: _l("Okänd", "Unknown"),
    "yes": _l("Ja", "Yes"),
    "no": _l("Nej", "No"),
}
WAIT_BINS: tuple[tuple[str, float, Label], ...] = (
    ("under_1", 1, _l("Under 1 min", "Under 1 min")),
    ("1_5", 5, _l("1–5 min", "1–5 min")),
    ("5_15", 15, _l("5–15 min", "5–15 min")),
    ("15_60", 60, _l("15–60 min", "15–60 min")),
    ("60_240", 240, _l("1–4 tim", "1–4 h")),
    ("over_240", math.inf, _l("Över 4 tim", "Over 4 h")),
)
NOT_ANSWERED = "not_answered"
NOT_ANSWERED_LABEL = _l("Inte besvarat av rådgivare", "Not answered by a counsellor")

DIMENSION_LABELS: dict[str, Label] = {
    "channel": _l("Kanal", "Channel"),
    "priority": _l("Prioritet", "Priority"),
    "intent": _l("Ärende enligt triage", "Intent (triage)"),
    "contact_type": _l("Vem tog kontakt", "Who made contact"),
    "environment": _l("Miljö som oron gäller", "Environment of concern"),
    "age_group": _l("Åldersgrupp för personen det gäller", "Age group of the person of concern"),
    "gender": _l("Kön för personen det gäller", "Gender of the person of concern"),
    "county": _l("Län", "County"),
    "municipality": _l("Kommun", "Municipality"),
    "outcome": _l("Utfall", "Outcome"),
    "referral_made": _l("Slussning gjord", "Referral made"),
    "crime_info_passed": _l("Uppgifter om brott lämnade", "Crime information passed"),
    "waiting": _l("Väntetid till rådgivare", "Waiting time for a counsellor"),
    "month": _l("Samtal per månad", "Conversations per month"),
}


# ------------------------------------------------------------------------------------------ data


@dataclass(frozen=True, slots=True)
class Row:
    """One conversation as the reports see it (no text, no pseudonym)."""

    channel: str
    priority: int
    intent: str | None
    created_at: datetime
    queued_at: datetime | None
    first_assigned_at: datetime | None
    closed_at: datetime | None
    assigned_to: int | None
    documented: bool
    contact_type: str | None = None
    environment: str | None = None
    age_group: str | None = None
    gender: str | None = None
    municipality_code: str | None = None
    county_code: str | None = None
    outcome: str | None = None
    referral_made: bool | None = None
    crime_info_passed: bool | None = None

    @property
    def wait_minutes(self) -> float | None:
        if self.queued_at is None or self.first_assigned_at is None:
            return None
        return max(0.0, (self.first_assigned_at - self.queued_at).total_seconds() / 60)


@dataclass(frozen=True, slots=True)
class Area:
    """The area of a local situational picture."""

    id: str
    kind: str  # municipality | kunskapshus | county
    name: Label
    codes: frozenset[str]


def resolve_area(code: str, directory: Directory | None = None) -> Area | None:
    """A municipality (SCB code), a Kunskapshus (its id, or ``KH`` + its host's code as in
    ``handoff.referrals.service.user_units``) or a county (two digits)."""
    d = directory if directory is not None else default_directory()
    code = code.strip()
    m = d.municipality(code) if len(code) == 4 else None
    if m is not None:
        return Area(
            m.code, "municipality", _l(f"{m.name} kommun", f"{m.name} municipality"), frozenset({m.code})
        )
    for k in d.kunskapshus:
        if code in (k.id, f"KH{k.host}"):
            served = frozenset(x.code for x in d.served_by(k.id))
            return Area(k.id, "kunskapshus", _l(k.recipient.name_sv, k.recipient.name_en), served)
    if len(code) == 2:
        munis = d.municipalities_in_county(code)
        if munis:
            name = munis[0].county_name
            return Area(code, "county", _l(name, name), frozenset(x.code for x in munis))
    return None


async def load_rows(
    session: AsyncSession, start: datetime | None, end: datetime | None, area: Area | None = None
) -> list[Row]:
    stmt = select(
        Conversation.channel,
        Conversation.priority,
        Conversation.intent,
        Conversation.created_at,
        Conversation.queued_at,
        Conversation.first_assigned_at,
        Conversation.closed_at,
        Conversation.assigned_to,
        DocumentationRecord.conversation_id,
        DocumentationRecord.contact_type,
        DocumentationRecord.environment,
        DocumentationRecord.age_group,
        DocumentationRecord.gender,
        DocumentationRecord.municipality_code,
        DocumentationRecord.county_code,
        DocumentationRecord.outcome,
        DocumentationRecord.referral_made,
        DocumentationRecord.crime_info_passed,
    ).outerjoin(DocumentationRecord, DocumentationRecord.conversation_id == Conversation.id)
    if start is not None:
        stmt = stmt.where(Conversation.created_at >= start)
    if end is not None:
        stmt = stmt.where(Conversation.created_at < end)
    if area is not None:
        stmt = stmt.where(DocumentationRecord.municipality_code.in_(sorted(area.codes)))
    rows: list[Row] = []
    for r in (await session.execute(stmt)).all():
        documented = r[8] is not None
        rows.append(
            Row(
                channel=r[0],
                priority=int(r[1] or 0),
                intent=r[2],
                created_at=r[3],
                queued_at=r[4],
                first_assigned_at=r[5],
                closed_at=r[6],
                assigned_to=r[7],
                documented=documented,
                contact_type=r[9],
                environment=r[10],
                age_group=r[11],
                gender=r[12],
                municipality_code=r[13],
                county_code=r[14],
                outcome=r[15],
                referral_made=r[16] if documented else None,
                crime_info_passed=r[17] if documented else None,
            )
        )
    return rows


# ------------------------------------------------------------------------------------ suppression

CellId = tuple[Hashable, ...]


class Suppressor:
    """Primary and secondary suppression over cells linked by published sums ("lines")."""

    def __init__(self, threshold: int = THRESHOLD) -> None:
        self.threshold = threshold
        self.values: dict[CellId, int] = {}
        self.lines: list[list[CellId]] = []

    def cell(self, cid: CellId, value: int) -> CellId:
        self.values[cid] = value
        return cid

    def line(self, cells: Iterable[CellId]) -> None:
        members = list(cells)
        if members:
            self.lines.append(members)

    def solve(self) -> dict[CellId, int | str]:
        """Cells below the threshold are hidden; then, while some published sum leaves exactly one
        cell unknown, that cell is either zero (nobody to protect: it may be worked out, and is then
        known in every other sum too) or the smallest other cell of the sum is hidden as well."""
        status: dict[CellId, str | None] = {
            cid: (PRIMARY if v < self.threshold else None) for cid, v in self.values.items()
        }
        deducible: set[CellId] = set()
        changed = True
        while changed:
            changed = False
            for line in self.lines:
                unknown = [c for c in line if status[c] is not None and c not in deducible]
                if len(unknown) != 1:
                    continue
                if self.values[unknown[0]] == 0:
                    deducible.add(unknown[0])
                    changed = True
                    continue
                shown = [c for c in line if status[c] is None]
                if not shown:
                    continue
                pick = min(shown, key=lambda c: (self.values[c], str(c)))
                status[pick] = SECONDARY
                changed = True
        return {cid: (s if s is not None else self.values[cid]) for cid, s in status.items()}


def published(value: int | str) -> int | None:
    return value if isinstance(value, int) else None


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


def counsellor_hours(rows: Iterable[Row], start: datetime, end: datetime) -> tuple[int, float]:
    """(conversations taken by a counsellor, counsellor hours) as defined in the module docstring."""
    per: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    taken = 0
    for r in rows:
        if r.first_assigned_at is None or r.assigned_to is None:
            continue
        taken += 1
        a = max(r.first_assigned_at, start)
        b = min(r.closed_at or end, end)
        if b > a:
            per[r.assigned_to].append((a, b))
    return taken, sum(_merge_hours(iv) for iv in per.values())


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
    ) -> None:
        self.rows = rows
        self.start = start
        self.end = end
        self.area = area
        self.directory = directory
        self.monthly = monthly
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

    def build_months(self) -> None:
        counts = Counter(_month(r.created_at) for r in self.rows)
        months = _months(self.start, self.end)
        self.dimension("month", counts, {m: _l(m, m) for m in months}, months)

    # result -------------------------------------------------------------------------------------
    def build(self) -> dict[str, Any]:
        self.build_dimensions()
        weeks, channels, weekly_cells, week_totals = self.build_weekly()
        queued_id = self.build_waiting()
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
        taken, hours = counsellor_hours(self.rows, self.start, self.end)
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
            "counsellors": {
                "conversations_taken": taken if taken >= THRESHOLD else PRIMARY,
                "counsellor_hours": round(hours, 1),
                "conversations_per_counsellor_hour": per_hour,
                "definition": _l(
                    "Rådgivartimmar: för varje rådgivare den sammanlagda tid (överlapp räknas en gång) "
                    "då hen hade minst ett samtal, från första tilldelning till avslut.",
                    "Counsellor hours: for each counsellor the total time (overlaps counted once) "
                    "during which they held at least one conversation, from first assignment to close.",
                ),
            },
        }


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The instants (UTC) at which Stockholm's ``start`` day begins and its ``end`` day ends."""
    if end < start:
        raise ValueError("the period ends before it starts")
    return local_midnight(start), local_midnight(end + timedelta(days=1))


def _header(kind: str, start: datetime, end: datetime, area: Area | None, now: datetime) -> dict[str, Any]:
    titles = {
        "period": _l("Rapport för perioden", "Report for the period"),
        "local": _l("Lokal lägesbild", "Local situational picture"),
        "evaluation": _l("Utvärdering av pilotverksamheten", "Pilot evaluation"),
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
            "note": _l(
                "Datum, veckor och månader enligt svensk tid (Europe/Stockholm, med sommartid).",
                "Dates, weeks and months in Swedish time (Europe/Stockholm, with summer time).",
            ),
        },
        "suppression": {
            "threshold": THRESHOLD,
            "primary": PRIMARY,
            "secondary": SECONDARY,
            "note": _l(
                "Celler under 5 visas som ”<5”. Celler som annars skulle kunna räknas fram ur summor "
                "visas som ”..”.",
                'Cells below 5 are shown as "<5". Cells that could otherwise be worked out from '
                'totals are shown as "..".',
            ),
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
    body = _Builder(rows, lo, hi, area=area, directory=d, monthly=False).build()
    return {**_header("local" if area else "period", lo, hi, area, now or utcnow()), **body}


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
    body = _Builder(rows, lo, hi, area=None, directory=d, monthly=True).build()
    report = {**_header("evaluation", lo, hi, None, now), **body}
    report["evaluation"] = evaluation_figures(report, lo, hi)
    return report


def _cell(report: Mapping[str, Any], dim: str, key: str) -> int | str | None:
    for d in report["dimensions"]:
        if d["key"] == dim:
            for c in d["cells"]:
                if c["key"] == key:
                    value: int | str = c["value"]
                    return value
    return None


def _rate(numerator: Sequence[int | str | None], denominator: Sequence[int | str | None]) -> float | None:
    """A percentage computed only from published numbers."""
    if not all(isinstance(v, int) for v in (*numerator, *denominator)):
        return None
    num = sum(int(v) for v in numerator if isinstance(v, int))
    den = sum(int(v) for v in denominator if isinstance(v, int))
    return round(100 * num / den, 1) if den else None


def evaluation_figures(report: Mapping[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
    total = report["total"]
    not_doc = _cell(report, "outcome", NOT_DOCUMENTED)
    documented: int | str | None = (
        total - not_doc if isinstance(total, int) and isinstance(not_doc, int) else None
    )
    fast = [_cell(report, "waiting", k) for k in ("under_1", "1_5", "5_15")]
    return {
        "days_in_operation": (local_date(end) - local_date(start)).days,
        "months_in_operation": round((local_date(end) - local_date(start)).days / 30.44, 1),
        "documented_percent": _rate([documented], [total]),
        "answered_within_15_min_percent": _rate(fast, [report["waiting"]["queued"]]),
        "referral_percent_of_documented": _rate(
            [_cell(report, "referral_made", "yes")],
            [_cell(report, "referral_made", "yes"), _cell(report, "referral_made", "no")],
        ),
        "crime_info_percent_of_documented": _rate(
            [_cell(report, "crime_info_passed", "yes")],
            [_cell(report, "crime_info_passed", "yes"), _cell(report, "crime_info_passed", "no")],
        ),
        "labels": {
            "days_in_operation": _l("Dagar i drift", "Days in operation"),
            "months_in_operation": _l("Månader i drift", "Months in operation"),
            "documented_percent": _l(
                "Andel dokumenterade samtal (%)", "Share of conversations documented (%)"
            ),
            "answered_within_15_min_percent": _l(
                "Andel köade samtal besvarade inom 15 min (%)",
                "Queued conversations answered within 15 min (%)",
            ),
            "referral_percent_of_documented": _l(
                "Andel dokumenterade samtal med slussning (%)", "Documented conversations referred (%)"
            ),
            "crime_info_percent_of_documented": _l(
                "Andel dokumenterade samtal där uppgifter om brott lämnades (%)",
                "Documented conversations with crime information passed (%)",
            ),
        },
    }


# ----------------------------------------------------------------------------------------- output


def to_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2)


def to_csv(report: Mapping[str, Any]) -> str:
    """One row per published figure: section, dimension, key, Swedish and English label, value."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["section", "dimension", "key", "label_sv", "label_en", "value"])
    w.writerow(["meta", "period", "from", "Från", "From", report["period"]["from"]])
    w.writerow(["meta", "period", "to", "Till", "To", report["period"]["to"]])
    w.writerow(["meta", "time_zone", "time_zone", "Tidszon", "Time zone", report["time_zone"]["name"]])
    if report.get("area"):
        area = report["area"]
        w.writerow(["meta", "area", area["id"], area["name"]["sv"], area["name"]["en"], area["kind"]])
    w.writerow(
        ["total", "conversations", "total", "Samtal totalt", "Conversations in total", report["total"]]
    )
    for d in report["dimensions"]:
        for c in d["cells"]:
            w.writerow(["dimension", d["key"], c["key"], c["label"]["sv"], c["label"]["en"], c["value"]])
        w.writerow(["dimension", d["key"], "total", "Summa", "Total", d["total"]])
    weekly = report["weekly"]
    for week, values, week_total in zip(weekly["weeks"], weekly["values"], weekly["totals"], strict=True):
        for ch, value in zip(weekly["channels"], values, strict=True):
            w.writerow(["weekly", week, ch["key"], ch["label"]["sv"], ch["label"]["en"], value])
        w.writerow(["weekly", week, "total", "Summa", "Total", week_total])
    for group in ("overall", "critical"):
        for key, value in report["waiting"][group].items():
            label = _l(f"Väntetid {group}", f"Waiting time {group}")
            w.writerow(["waiting", group, key, label["sv"], label["en"], "" if value is None else value])
    c = report["counsellors"]
    for key in ("conversations_taken", "counsellor_hours", "conversations_per_counsellor_hour"):
        value = c[key]
        w.writerow(["counsellors", "counsellors", key, key, key, "" if value is None else value])
    for key, value in (report.get("evaluation") or {}).items():
        if key == "labels":
            continue
        label = report["evaluation"]["labels"][key]
        w.writerow(
            ["evaluation", "evaluation", key, label["sv"], label["en"], "" if value is None else value]
        )
    return out.getvalue()


# charts ------------------------------------------------------------------------------------------

PALETTE = ("#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000", "#2e75b6")


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _bil(label: Mapping[str, str]) -> str:
    return label["sv"] if label["sv"] == label["en"] else f"{label['sv']} / {label['en']}"


def _hatch_defs() -> str:
    return (
        '<defs><pattern id="hidden" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#777" stroke-width="2"/></pattern></defs>'
    )


def _two_lines(x: float, y: float, label: Mapping[str, str], anchor: str = "end", size: int = 11) -> str:
    """Swedish on the first line, English (grey) under it when it differs."""
    first = (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}">{_esc(label["sv"])}</text>'
    )
    if label["en"] == label["sv"]:
        return first
    return first + (
        f'<text x="{x:.1f}" y="{y + size:.1f}" font-size="{size - 2}" fill="#555" '
        f'text-anchor="{anchor}">{_esc(label["en"])}</text>'
    )


def chart_weekly(report: Mapping[str, Any]) -> str:
    """Stacked bars of the published weekly counts per channel; a week with hidden cells gets one
    hatched cap of a fixed height, whatever the hidden values are."""
    weekly = report["weekly"]
    weeks: list[str] = weekly["weeks"]
    channels = weekly["channels"]
    width, height, left, bottom, top = 640, 260, 44, 40, 14
    shown_stacks = [sum(v for v in row if isinstance(v, int)) for row in weekly["values"]]
    peak = max([*shown_stacks, 1])
    plot_h = height - bottom - top
    cap_h = plot_h * 0.08
    scale = (plot_h - cap_h) / peak
    step = (width - left - 10) / max(1, len(weeks))
    bar_w = max(4.0, step * 0.7)
    legend_y = height + 4
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {legend_y + 18 * (len(channels) + 1)}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="Samtal per vecka och kanal / '
        f'Conversations per week by channel">',
        _hatch_defs(),
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#000"/>',
        f'<line x1="{left}" y1="{height - bottom - peak * scale:.1f}" x2="{width - 10}" '
        f'y2="{height - bottom - peak * scale:.1f}" stroke="#bbb" stroke-dasharray="3 3"/>',
        f'<text x="{left - 4}" y="{height - bottom - peak * scale + 4:.1f}" text-anchor="end" '
        f'font-size="10">{peak}</text>',
        f'<text x="{left - 4}" y="{height - bottom + 4}" text-anchor="end" font-size="10">0</text>',
    ]
    for i, (week, row) in enumerate(zip(weeks, weekly["values"], strict=True)):
        x = left + i * step + (step - bar_w) / 2
        y = float(height - bottom)
        for j, value in enumerate(row):
            if not isinstance(value, int) or value == 0:
                continue
            h = value * scale
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}" stroke="#fff" stroke-width="0.5">'
                f"<title>{_esc(week)} {_esc(_bil(channels[j]['label']))}: {value}</title></rect>"
            )
        if any(not isinstance(v, int) for v in row):
            y -= cap_h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{cap_h:.1f}" fill="url(#hidden)" '
                f'stroke="#777" stroke-width="0.5"><title>{_esc(week)}: &lt;5 / ..</title></rect>'
            )
        if len(weeks) <= 20 or i % max(1, len(weeks) // 12) == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 14}" font-size="9" '
                f'text-anchor="middle">{_esc(week[5:])}</text>'
            )
    for j, ch in enumerate(channels):
        y = legend_y + 18 * j
        parts.append(f'<rect x="{left}" y="{y}" width="12" height="12" fill="{PALETTE[j % len(PALETTE)]}"/>')
        parts.append(f'<text x="{left + 18}" y="{y + 10}" font-size="11">{_esc(_bil(ch["label"]))}</text>')
    y = legend_y + 18 * len(channels)
    parts.append(f'<rect x="{left}" y="{y}" width="12" height="12" fill="url(#hidden)" stroke="#777"/>')
    parts.append(
        f'<text x="{left + 18}" y="{y + 10}" font-size="11">Ej publicerat (&lt;5 eller ..) / '
        "Not published (&lt;5 or ..)</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def chart_week_totals(report: Mapping[str, Any], aria: Label | None = None) -> str:
    """Columns of the published weekly totals; a hidden week is drawn hatched at a fixed short
    height, whatever its value (used by the municipality portal)."""
    weekly = report["weekly"]
    weeks: list[str] = weekly["weeks"]
    totals: list[int | str] = weekly["totals"]
    label = aria or _l("Samtal per vecka", "Conversations per week")
    width, height, left, bottom, top = 640, 200, 44, 30, 14
    peak = max([v for v in totals if isinstance(v, int)] + [1])
    plot_h = height - bottom - top
    hidden_h = max(6.0, plot_h * 0.08)
    scale = plot_h / peak
    step = (width - left - 10) / max(1, len(weeks))
    bar_w = max(3.0, step * 0.7)
    parts = [
        f'<svg class="chart week-totals" viewBox="0 0 {width} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{_esc(_bil(label))}">',
        _hatch_defs(),
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#000"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" font-size="10">{peak}</text>',
        f'<line x1="{left}" y1="{top}" x2="{width - 10}" y2="{top}" stroke="#bbb" stroke-dasharray="3 3"/>',
        f'<text x="{left - 4}" y="{height - bottom + 4}" text-anchor="end" font-size="10">0</text>',
    ]
    for i, (week, value) in enumerate(zip(weeks, totals, strict=True)):
        x = left + i * step + (step - bar_w) / 2
        if isinstance(value, int):
            h, fill, cls = value * scale, PALETTE[0], "week"
        else:
            h, fill, cls = hidden_h, "url(#hidden)", "week hidden"
        parts.append(
            f'<rect class="{cls}" data-week="{_esc(week)}" x="{x:.1f}" y="{height - bottom - h:.1f}" '
            f'width="{bar_w:.1f}" height="{h:.1f}" fill="{fill}" stroke="#555" stroke-width="0.5">'
            f"<title>{_esc(week)}: {_esc(value)}</title></rect>"
        )
        if len(weeks) <= 20 or i % max(1, len(weeks) // 12) == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 14}" font-size="9" '
                f'text-anchor="middle">{_esc(week[5:])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def chart_bars(dimension: Mapping[str, Any], aria: Label) -> str:
    """Horizontal bars, one per cell; hidden cells drawn hatched at a fixed short length."""
    cells = dimension["cells"]
    width, row_h, label_w = 640, 30, 250
    peak = max([c["value"] for c in cells if isinstance(c["value"], int)] + [1])
    scale = (width - label_w - 50) / peak
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {row_h * len(cells) + 6}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{_esc(_bil(aria))}">',
        _hatch_defs(),
    ]
    for i, c in enumerate(cells):
        y = i * row_h + 3
        value = c["value"]
        if isinstance(value, int):
            w, fill = value * scale, PALETTE[0]
        else:
            w, fill = 18.0, "url(#hidden)"
        parts.append(_two_lines(label_w - 8, y + 11, c["label"]))
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{row_h - 10}" fill="{fill}" stroke="#555" '
            f'stroke-width="0.5"/>'
        )
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" font-size="11">{_esc(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["bil"] = _bil
    return env


def to_html(report: Mapping[str, Any]) -> str:
    dims = {d["key"]: d for d in report["dimensions"]}
    charts = {
        "weekly": Markup(chart_weekly(report)),  # noqa: S704 - built from escaped parts
        "priority": Markup(chart_bars(dims["priority"], _l("Prioritet", "Priority mix"))),  # noqa: S704
        "waiting": Markup(chart_bars(dims["waiting"], DIMENSION_LABELS["waiting"])),  # noqa: S704
    }
    template = _environment().get_template("report.html")
    return template.render(report=report, dims=report["dimensions"], charts=charts, L=_l)


def render(report: Mapping[str, Any], fmt: str) -> str:
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "html":
        return to_html(report)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


__all__ = [
    "FORMATS",
    "PRIMARY",
    "SECONDARY",
    "STOCKHOLM",
    "THRESHOLD",
    "TIME_ZONE",
    "Area",
    "Row",
    "Suppressor",
    "build_evaluation",
    "build_report",
    "chart_week_totals",
    "counsellor_hours",
    "local_date",
    "local_midnight",
    "local_today",
    "render",
    "resolve_area",
]
