"""Reports over generated conversations: the counts, waiting times, counsellor hours, and small
cells suppressed in every format so that totals cannot give them away."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from gateway.store.db import Database
from handoff.records.reports import service as reports
from handoff.records.reports import strings as report_strings
from handoff.records.reports.service import (
    PRIMARY,
    SECONDARY,
    Suppressor,
    build_evaluation,
    build_report,
    render,
)
from nlu.result import INTENT_PRIORITY
from tests.handoff.records.conftest import Conversation, DocumentationRecord, add_user

W10 = datetime(2025, 3, 3, 8, tzinfo=UTC)  # Monday of ISO week 2025-W10
W11 = datetime(2025, 3, 10, 8, tzinfo=UTC)
START, END = date(2025, 3, 3), date(2025, 3, 16)


async def generate(db: Database) -> None:
    """31 conversations in two weeks.

    channel: webchat 20 (10 + 10), email 8 (4 + 4), telegram 3 (week 10);
    5 critical (urgent_threat, waits 1..5 min), 26 normal (20 wait 10 min, 6 wait 30 min);
    each held 20 minutes by one counsellor, never overlapping;
    25 documented: environment violent right-wing 12 (Örebro 1880), Islamist 10 (Stockholm 0180),
    left-wing 3 (no municipality); referral made 3, not made 22; 6 not documented.
    """
    specs: list[dict[str, Any]] = []
    for i in range(10):
        specs.append({"channel": "webchat", "at": W10 + timedelta(hours=i)})
        specs.append({"channel": "webchat", "at": W11 + timedelta(hours=i)})
    for i in range(4):
        specs.append({"channel": "email", "at": W10 + timedelta(days=1, hours=i)})
        specs.append({"channel": "email", "at": W11 + timedelta(days=1, hours=i)})
    for i in range(3):
        specs.append({"channel": "telegram", "at": W10 + timedelta(days=2, hours=i)})
    for i, spec in enumerate(specs):
        if i < 5:
            spec.update(intent="urgent_threat", priority=3, wait=i + 1)
        else:
            spec.update(intent="concern_relative", priority=1, wait=10 if i < 25 else 30)
        if i < 12:
            spec["doc"] = ("violent_right_wing", "1880", "18")
        elif i < 22:
            spec["doc"] = ("islamist", "0180", "01")
        elif i < 25:
            spec["doc"] = ("left_wing_autonomous", None, None)
        spec["referred"] = i in (0, 12, 22)
    async with db.session() as s:
        user = await add_user(s, "anna")
        for spec in specs:
            conv_id = uuid.uuid4().hex
            first = spec["at"] + timedelta(minutes=spec["wait"])
            s.add(
                Conversation(
                    id=conv_id,
                    channel=spec["channel"],
                    pseudonym="",
                    state="documented" if "doc" in spec else "closed",
                    priority=spec["priority"],
                    intent=spec["intent"],
                    created_at=spec["at"],
                    queued_at=spec["at"],
                    assigned_to=user.id,
                    assigned_at=first,
                    first_assigned_at=first,
                    closed_at=first + timedelta(minutes=20),
                    last_message_at=spec["at"],
                    meta={},
                )
            )
            if "doc" in spec:
                env, muni, county = spec["doc"]
                s.add(
                    DocumentationRecord(
                        conversation_id=conv_id,
                        fields={},
                        contact_type="relative",
                        environment=env,
                        municipality_code=muni,
                        county_code=county,
                        outcome="referred" if spec["referred"] else "advice_given",
                        referral_made=spec["referred"],
                        crime_info_passed=False,
                        summary="",
                    )
                )


def dim(report: dict[str, Any], key: str) -> dict[str, Any]:
    return {c["key"]: c["value"] for d in report["dimensions"] if d["key"] == key for c in d["cells"]}


def hidden(value: Any) -> bool:
    return value in (PRIMARY, SECONDARY)


async def test_report_over_generated_conversations_has_the_right_counts(store: Database) -> None:
    await generate(store)
    report = await build_report(store, START, END)
    assert report["total"] == 31
    assert dim(report, "channel") == {
        "webchat": 20,
        "email": 8,
        "telegram": PRIMARY,
        "xmpp": PRIMARY,
        "sms": PRIMARY,  # a channel of the line, with no message in the period (issue 20)
        "phone": PRIMARY,  # a channel of the line, with no call in the period (issue 20)
    }
    assert dim(report, "priority")["normal"] == 26 and dim(report, "priority")["critical"] == 5
    env = dim(report, "environment")
    assert (env["violent_right_wing"], env["islamist"], env["left_wing_autonomous"]) == (12, 10, PRIMARY)
    assert dim(report, "municipality")["1880"] == 12 and dim(report, "municipality")["0180"] == 10
    assert dim(report, "county")["18"] == 12 and dim(report, "county")["01"] == 10
    assert dim(report, "referral_made")["no"] == 22
    assert report["weekly"]["weeks"] == ["2025-W10", "2025-W11"]
    channels = [c["key"] for c in report["weekly"]["channels"]]
    assert report["weekly"]["values"][0][channels.index("webchat")] == 10
    assert report["weekly"]["values"][1][channels.index("webchat")] == 10
    assert report["weekly"]["totals"] == [17, 14]  # 10 + 4 + 3 and 10 + 4

    # waits: 1..5 (critical), 20 x 10, 6 x 30 minutes
    assert report["waiting"]["overall"] == {"n": 31, "median_minutes": 10.0, "p90_minutes": 30.0}
    assert report["waiting"]["critical"] == {"n": 5, "median_minutes": 3.0, "p90_minutes": 5.0}
    assert dim(report, "waiting")["5_15"] == 21 and dim(report, "waiting")["15_60"] == 6
    # 31 conversations x 20 minutes, never overlapping
    assert report["counsellors"]["counsellor_hours"] == pytest.approx(10.3, abs=0.05)
    assert report["counsellors"]["conversations_per_counsellor_hour"] == 3.0


def recovered(cells: list[Any], total: int) -> int | None:
    """What a reader works out for the one hidden cell of a published sum (None: not one hidden)."""
    if sum(hidden(v) for v in cells) != 1:
        return None
    return total - sum(int(v) for v in cells if not hidden(v))


def assert_nothing_recoverable(report: dict[str, Any]) -> None:
    """A published sum with exactly one hidden cell would give it away: that may only happen when
    the hidden cell is zero (nobody to protect).  Checked for every dimension against its total and
    for each channel's weeks against the channel's count."""
    for d in report["dimensions"]:
        if isinstance(d["total"], int):
            assert recovered([c["value"] for c in d["cells"]], d["total"]) in (None, 0), d["key"]
    channel = dim(report, "channel")
    keys = [c["key"] for c in report["weekly"]["channels"]]
    for j, key in enumerate(keys):
        weeks = [row[j] for row in report["weekly"]["values"]]
        if hidden(channel[key]):
            if not any(hidden(v) for v in weeks):
                assert sum(weeks) == 0, key
        else:
            assert recovered(weeks, channel[key]) in (None, 0), key
    # each week's channels against the week's total, and the weeks' totals against the total
    week_totals = report["weekly"]["totals"]
    for week, row, week_total in zip(
        report["weekly"]["weeks"], report["weekly"]["values"], week_totals, strict=True
    ):
        if isinstance(week_total, int):
            assert recovered(row, week_total) in (None, 0), week
    if isinstance(report["total"], int):
        assert recovered(week_totals, report["total"]) in (None, 0), "weekly totals"


async def test_small_cells_cannot_be_recovered_from_totals(sqlite_store: Database) -> None:
    await generate(sqlite_store)
    report = await build_report(sqlite_store, START, END)
    referral = dim(report, "referral_made")
    # 3 referrals: suppressed; alone it would be 31 - 22 - 6, so "not documented" (6) goes too,
    # in every dimension where it appears
    assert referral == {"yes": PRIMARY, "no": 22, "not_documented": SECONDARY}
    for key in ("contact_type", "environment", "outcome", "county", "municipality", "crime_info_passed"):
        assert dim(report, key)["not_documented"] == SECONDARY, key
    assert_nothing_recoverable(report)


def test_suppressor_adds_the_smallest_other_cell_and_repeats_across_linked_sums() -> None:
    sup = Suppressor()
    a, b, c = sup.cell(("d", "a"), 3), sup.cell(("d", "b"), 7), sup.cell(("d", "c"), 20)
    x, y = sup.cell(("e", "x"), 7), sup.cell(("e", "y"), 30)
    sup.line([a, b, c])
    sup.line([b, x, y])  # b also appears in another published sum
    shown = sup.solve()
    assert shown[a] == PRIMARY and shown[b] == SECONDARY and shown[c] == 20
    assert shown[x] == SECONDARY and shown[y] == 30


def test_a_hidden_zero_may_be_worked_out_but_then_counts_as_known() -> None:
    sup = Suppressor()
    zero, big = sup.cell(("m", "april"), 0), sup.cell(("m", "march"), 31)
    sup.line([zero, big])  # April is zero: nothing to protect, March stays published
    small, other = sup.cell(("x", "small"), 2), sup.cell(("x", "other"), 9)
    sup.line([zero, small, other])  # with April known, "small" would be alone: "other" goes
    shown = sup.solve()
    assert shown[big] == 31 and shown[zero] == PRIMARY
    assert shown[small] == PRIMARY and shown[other] == SECONDARY


async def test_small_cells_are_suppressed_in_every_format(sqlite_store: Database) -> None:
    await generate(sqlite_store)
    report = await build_report(sqlite_store, START, END)

    as_json = json.loads(render(report, "json"))
    assert dim(as_json, "channel")["telegram"] == PRIMARY
    assert dim(as_json, "referral_made")["yes"] == PRIMARY

    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    by_key = {(r["section"], r["dimension"], r["key"]): r["value"] for r in rows}
    assert by_key[("dimension", "channel", "telegram")] == PRIMARY
    assert by_key[("dimension", "referral_made", "yes")] == PRIMARY
    assert by_key[("dimension", "referral_made", "not_documented")] == SECONDARY
    assert by_key[("dimension", "channel", "webchat")] == "20"
    assert by_key[("weekly", "2025-W10", "telegram")] == PRIMARY
    small = [
        r for r in rows if r["value"] in {"1", "2", "3", "4"} and r["section"] in ("dimension", "weekly")
    ]
    assert small == [], "no count below 5 is published"

    page = render(report, "html")
    table = re.search(r'<table data-dimension="channel">(.*?)</table>', page, re.S)
    assert table is not None
    assert re.search(r"<td>Telegram</td><td class=\"num\">&lt;5</td>", table.group(1))
    # Both languages, the English marked as English (a reader's tools know which is which).
    assert re.search(
        r'Webbchatt <span class="en" lang="en">/ Web chat</span></td><td class="num">20</td>', table.group(1)
    )
    referral_table = re.search(r'<table data-dimension="referral_made">(.*?)</table>', page, re.S)
    assert referral_table is not None and ">3<" not in referral_table.group(1)
    # charts: weekly by channel, priority mix and waiting times, inline SVG; print styles
    assert page.count("<svg") == 3 and "@media print" in page
    assert "Samtal per vecka och kanal" in page and "Weekly volume by channel" in page

    # In one language (the console's, for a member of staff): not a word of the other.
    swedish, english = render(report, "html", "sv"), render(report, "html", "en")
    assert '<html lang="sv">' in swedish and '<html lang="en">' in english
    for words, absent in ((swedish, ("Web chat", "Total", "Weekly volume", "Overview", "Generated")),
                          (english, ("Webbchatt", "Summa", "Samtal per vecka", "Översikt", "Skapad"))):  # fmt: skip
        assert not [w for w in absent if w in words], absent
    assert 'Webbchatt</td><td class="num">20</td>' in swedish
    assert 'Web chat</td><td class="num">20</td>' in english
    assert render(report, "json") == reports.render(report, "json")  # the data itself is unchanged


async def test_tiny_report_publishes_no_number_below_five(sqlite_store: Database) -> None:
    async with sqlite_store.session() as s:
        user = await add_user(s, "anna")
        for i in range(3):
            s.add(
                Conversation(
                    id=uuid.uuid4().hex,
                    channel="email",
                    pseudonym="",
                    state="closed",
                    priority=1,
                    intent="concern_relative",
                    created_at=W10 + timedelta(hours=i),
                    queued_at=W10 + timedelta(hours=i),
                    assigned_to=user.id,
                    first_assigned_at=W10 + timedelta(hours=i, minutes=3),
                    closed_at=W10 + timedelta(hours=i, minutes=30),
                    last_message_at=W10,
                    meta={},
                )
            )
    report = await build_report(sqlite_store, START, END)
    assert report["total"] == PRIMARY
    assert report["waiting"]["overall"] == {"n": PRIMARY, "median_minutes": None, "p90_minutes": None}
    assert report["counsellors"]["conversations_per_counsellor_hour"] is None
    for d in report["dimensions"]:
        assert all(hidden(c["value"]) for c in d["cells"]), d["key"]


async def test_local_picture_holds_only_its_own_area(sqlite_store: Database) -> None:
    await generate(sqlite_store)
    orebro = reports.resolve_area("kunskapshus-orebro")
    stockholm = reports.resolve_area("0180")
    assert orebro is not None and stockholm is not None and "1880" in orebro.codes
    local = await build_report(sqlite_store, START, END, area=orebro)
    assert local["kind"] == "local" and local["total"] == 12
    assert dim(local, "environment")["violent_right_wing"] == 12
    assert "0180" not in dim(local, "municipality") and "not_documented" not in dim(local, "environment")
    sthlm = await build_report(sqlite_store, START, END, area=stockholm)
    assert sthlm["total"] == 10 and dim(sthlm, "environment")["islamist"] == 10
    assert dim(sthlm, "municipality") == {"0180": 10}


async def test_pilot_evaluation_covers_the_whole_lifetime(sqlite_store: Database) -> None:
    await generate(sqlite_store)
    now = datetime(2025, 4, 2, 12, tzinfo=UTC)
    report = await build_evaluation(sqlite_store, now=now)
    assert report["kind"] == "evaluation"
    assert report["period"] == {"from": "2025-03-03", "to": "2025-04-02"}
    assert report["total"] == 31
    assert dim(report, "month") == {"2025-03": 31, "2025-04": PRIMARY}
    figures = report["evaluation"]
    assert figures["days_in_operation"] == 31
    # "not documented" is hidden (see above), so the share documented is not published
    assert figures["documented_percent"] is None
    assert figures["answered_within_15_min_percent"] is None  # the 1-5 min bin is hidden
    html_page = render(report, "html")
    assert "Utvärdering" in html_page and "Pilot evaluation" in html_page


def test_intent_priorities_match_the_triage_contract() -> None:
    assert report_strings.INTENT_PRIORITY == {k: int(v) for k, v in INTENT_PRIORITY.items()}
