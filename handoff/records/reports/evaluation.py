"""The pilot evaluation's figures, computed from a report's published numbers only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from handoff.records.reports.periods import local_date
from handoff.records.reports.strings import NOT_DOCUMENTED
from handoff.records.reports.strings import label as text_label


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
        "calls_answered_percent": _rate(
            [_cell(report, "call_outcome", "answered")], [report.get("calls", {}).get("total")]
        ),
        "calls_lost_percent": _rate(
            [_cell(report, "call_outcome", "missed"), _cell(report, "call_outcome", "abandoned")],
            [report.get("calls", {}).get("total")],
        ),
        "labels": {
            "days_in_operation": text_label("report.evaluation.days_in_operation"),
            "months_in_operation": text_label("report.evaluation.months_in_operation"),
            "documented_percent": text_label("report.evaluation.documented_percent"),
            "answered_within_15_min_percent": text_label("report.evaluation.answered_within_15_min_percent"),
            "referral_percent_of_documented": text_label("report.evaluation.referral_percent_of_documented"),
            "crime_info_percent_of_documented": text_label(
                "report.evaluation.crime_info_percent_of_documented"
            ),
            "calls_answered_percent": text_label("report.evaluation.calls_answered_percent"),
            "calls_lost_percent": text_label("report.evaluation.calls_lost_percent"),
        },
    }
