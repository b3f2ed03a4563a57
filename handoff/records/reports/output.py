"""A report as JSON, CSV or HTML (:func:`render`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

import jinja2
from markupsafe import Markup

from handoff.records.reports.charts import _bil, chart_bars, chart_weekly
from handoff.records.reports.data import FORMATS, TEMPLATES
from handoff.records.reports.strings import DIMENSION_LABELS, _l
from handoff.records.reports.strings import label as text_label

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
    calls = report.get("calls") or {}
    if calls:
        w.writerow(["calls", "calls", "total", "Telefonsamtal", "Phone calls", calls["total"]])
        for group in ("answer_time", "duration"):
            for key, value in calls[group].items():
                w.writerow(["calls", group, key, group, group, "" if value is None else value])
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
        "priority": Markup(chart_bars(dims["priority"], text_label("report.chart.priority"))),  # noqa: S704
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
