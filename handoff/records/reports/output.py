"""A report as JSON, CSV or HTML (:func:`render`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

import jinja2
from markupsafe import Markup, escape

from handoff.records.reports.charts import _bil, chart_bars, chart_weekly
from handoff.records.reports.data import FORMATS, TEMPLATES
from handoff.records.reports.strings import DIMENSION_LABELS, REPORT_LANGUAGES, Label
from handoff.records.reports.strings import label as text_label

# ----------------------------------------------------------------------------------------- output


def to_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2)


def to_csv(report: Mapping[str, Any]) -> str:
    """One row per published figure: section, dimension, key, Swedish and English label, value."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["section", "dimension", "key", "label_sv", "label_en", "value"])

    def row(section: str, dimension: str, key: str, label: Label, value: Any) -> None:
        w.writerow([section, dimension, key, label["sv"], label["en"], "" if value is None else value])

    total = text_label("report.page.total")
    row("meta", "period", "from", text_label("report.page.from"), report["period"]["from"])
    row("meta", "period", "to", text_label("report.page.to"), report["period"]["to"])
    row("meta", "time_zone", "time_zone", text_label("report.page.time_zone"), report["time_zone"]["name"])
    if report.get("area"):
        area = report["area"]
        w.writerow(["meta", "area", area["id"], area["name"]["sv"], area["name"]["en"], area["kind"]])
    row("total", "conversations", "total", text_label("report.page.total_conversations"), report["total"])
    for d in report["dimensions"]:
        for c in d["cells"]:
            w.writerow(["dimension", d["key"], c["key"], c["label"]["sv"], c["label"]["en"], c["value"]])
        row("dimension", d["key"], "total", total, d["total"])
    weekly = report["weekly"]
    for week, values, week_total in zip(weekly["weeks"], weekly["values"], weekly["totals"], strict=True):
        for ch, value in zip(weekly["channels"], values, strict=True):
            w.writerow(["weekly", week, ch["key"], ch["label"]["sv"], ch["label"]["en"], value])
        row("weekly", week, "total", total, week_total)
    for group, msgid in (
        ("overall", "report.page.waiting_overall"),
        ("critical", "report.page.waiting_critical"),
    ):
        for key, value in report["waiting"][group].items():
            row("waiting", group, key, text_label(msgid), value)
    calls = report.get("calls") or {}
    if calls:
        row("calls", "calls", "total", text_label("report.page.calls"), calls["total"])
        for group, msgid in (
            ("answer_time", "report.page.answer_time"),
            ("duration", "report.page.call_length"),
        ):
            for key, value in calls[group].items():
                row("calls", group, key, text_label(msgid), value)
    c = report["counsellors"]
    for key, msgid in (
        ("conversations_taken", "report.page.conversations_taken"),
        ("counsellor_hours", "report.page.counsellor_hours"),
        ("conversations_per_counsellor_hour", "report.page.per_counsellor_hour"),
    ):
        row("counsellors", "counsellors", key, text_label(msgid), c[key])
    for key, value in (report.get("evaluation") or {}).items():
        if key == "labels":
            continue
        label = report["evaluation"]["labels"][key]
        row("evaluation", "evaluation", key, label, value)
    return out.getvalue()


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["bil"] = _bil
    return env


def both(label: Mapping[str, str], line_break: bool = False) -> Markup:
    """A label in the report's languages: Swedish, then English marked as English (``lang="en"``),
    on the next line with ``line_break``; one text when they are the same (or the report is in one
    language, :func:`one_language`)."""
    if label["sv"] == label["en"]:
        return escape(label["sv"])
    between = Markup("<br>") if line_break else Markup(" ")
    return Markup('{}{}<span class="en" lang="en">/ {}</span>').format(label["sv"], between, label["en"])


def one_language(value: Any, lang: str) -> Any:
    """The report with every ``{"sv", "en"}`` label reduced to ``lang`` (a page in one language)."""
    if isinstance(value, Mapping):
        if set(value) == set(REPORT_LANGUAGES) and all(isinstance(v, str) for v in value.values()):
            return dict.fromkeys(REPORT_LANGUAGES, value[lang])
        return {k: one_language(v, lang) for k, v in value.items()}
    if isinstance(value, list):
        return [one_language(v, lang) for v in value]
    return value


def to_html(report: Mapping[str, Any], lang: str | None = None) -> str:
    """The printable report: in Swedish and English, or only in ``lang`` (``"sv"`` or ``"en"``)."""
    if lang is not None:
        report = one_language(report, lang)
    dims = {d["key"]: d for d in report["dimensions"]}

    def shown(label: Label) -> Label:
        return label if lang is None else dict.fromkeys(REPORT_LANGUAGES, label[lang])

    charts = {  # built from escaped parts
        "weekly": Markup(  # noqa: S704
            chart_weekly(
                report,
                shown(text_label("report.page.weekly")),
                shown(text_label("report.page.not_published")),
            )
        ),
        "priority": Markup(chart_bars(dims["priority"], shown(text_label("report.chart.priority")))),  # noqa: S704
        "waiting": Markup(chart_bars(dims["waiting"], shown(DIMENSION_LABELS["waiting"]))),  # noqa: S704
    }
    template = _environment().get_template("report.html")

    def words(msgid: str) -> Markup:
        return both(shown(text_label(msgid)))

    week_short = text_label("report.week_short")

    def week(iso: str) -> str:
        """An ISO week ("2026-W36"): as it is in both languages, in the page's words in one ("2026 v. 36")."""
        return iso if lang is None else f"{iso[:4]} " + week_short[lang].format(n=int(iso[6:]))

    return template.render(
        report=report,
        dims=report["dimensions"],
        charts=charts,
        both=both,
        W=words,
        week=week,
        lang=lang or "sv",
    )


def render(report: Mapping[str, Any], fmt: str, lang: str | None = None) -> str:
    """The report in a format; HTML in one language when ``lang`` is given, else in both."""
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "html":
        return to_html(report, lang)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
