"""Inline SVG charts of a report, built from escaped parts."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from handoff.records.reports.strings import Label, _l
from handoff.records.reports.strings import label as text_label

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


def chart_weekly(report: Mapping[str, Any], aria: Label | None = None, hidden: Label | None = None) -> str:
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
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{_esc(_bil(aria or text_label("report.page.weekly")))}">',
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
    hidden_label = hidden or text_label("report.page.not_published")
    parts.append(f'<text x="{left + 18}" y="{y + 10}" font-size="11">{_esc(_bil(hidden_label))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def chart_week_totals(report: Mapping[str, Any], aria: Label | None = None, lang: str | None = None) -> str:
    """Columns of the published weekly totals; a hidden week is drawn hatched at a fixed short
    height, whatever its value (used by the municipality portal).  With ``lang`` (a page in one
    language) its words are in that language only ("v. 36"), else in both (the report)."""
    weekly = report["weekly"]
    weeks: list[str] = weekly["weeks"]
    totals: list[int | str] = weekly["totals"]
    label = aria or text_label("report.chart.weekly")
    if lang is not None:
        one = "en" if lang == "en" else "sv"
        label = _l(label[one], label[one])
    week_short = text_label("report.week_short")

    def tick(week: str) -> str:
        return week_short["en" if lang == "en" else "sv"].format(n=int(week[6:])) if lang else week[5:]

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
            f"<title>{_esc(tick(week) if lang else week)}: {_esc(value)}</title></rect>"
        )
        if len(weeks) <= 20 or i % max(1, len(weeks) // 12) == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 14}" font-size="9" '
                f'text-anchor="middle">{_esc(tick(week))}</text>'
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
