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
conversation (``first_assigned_at`` to ``closed_at``, or, if still open, now or the end of the
period, whichever is earlier: never time that has not passed;
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

Modules
-------
:mod:`.data` (rows, areas, constants), :mod:`.strings` (labels), :mod:`.suppression`,
:mod:`.periods` (Stockholm days, waiting times, counsellor hours), :mod:`.building` (the report),
:mod:`.evaluation` (the pilot's figures), :mod:`.charts` (inline SVG) and :mod:`.output` (JSON, CSV,
HTML).  This module is the reports' public face: it names what the rest of the gateway uses.
"""

from __future__ import annotations

from handoff.records.reports.building import build_evaluation, build_report
from handoff.records.reports.charts import chart_week_totals
from handoff.records.reports.data import (
    FORMATS,
    PRIMARY,
    SECONDARY,
    STOCKHOLM,
    THRESHOLD,
    TIME_ZONE,
    Area,
    Row,
    resolve_area,
)
from handoff.records.reports.output import render
from handoff.records.reports.periods import counsellor_hours, local_date, local_midnight, local_today
from handoff.records.reports.suppression import Suppressor

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
