"""Age group and gender of the person of concern in the reports: the counts over conversations
documented through the close form, and small cells suppressed (primary and secondary) in JSON, CSV
and HTML so that no total gives one away."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from gateway.store.db import Database
from handoff.records.documentation import save_documentation
from handoff.records.reports import service as reports
from handoff.records.reports.service import PRIMARY, SECONDARY, build_report, render
from tests.handoff.records.conftest import add_conversation, add_user
from tests.handoff.records.reports.test_service import assert_nothing_recoverable, dim, hidden
from tests.handoff.records.test_documentation import complete

START, END = date(2025, 3, 3), date(2025, 3, 16)
FIRST = datetime(2025, 3, 3, 9, tzinfo=UTC)

GENDERS = ["male"] * 12 + ["female"] * 8 + ["other"] * 6 + ["unknown"] * 4
AGES = ["under_15"] * 5 + ["15_17"] * 6 + ["18_25"] * 5 + ["26_35"] * 5 + ["36_plus"] * 7 + ["unknown"] * 2
TRUE_GENDER = {"female": 8, "male": 12, "other": 6, "unknown": 4}
TRUE_AGE = {"under_15": 5, "15_17": 6, "18_25": 5, "26_35": 5, "36_plus": 7, "unknown": 2}


async def generate(db: Database, *, undocumented: int = 5) -> None:
    """30 conversations documented through the close form (all in Örebro, 1880) with the ages and
    genders above, and ``undocumented`` conversations closed but not documented."""
    async with db.session() as s:
        user = await add_user(s, "anna")
        ids = [
            await add_conversation(s, assigned_to=user.id, created_at=FIRST + timedelta(hours=7 * i))
            for i in range(30 + undocumented)
        ]
    for conv_id, age, gender in zip(ids, AGES, GENDERS, strict=False):
        async with db.session() as s:
            await save_documentation(
                s, conv_id, complete(age_group=age, gender=gender, municipality="1880"), user
            )


def assert_counts(cells: dict[str, Any], truth: dict[str, int]) -> None:
    """Every published cell is the true count; every true count below 5 is hidden."""
    for key, value in cells.items():
        expected = truth.get(key, 0)
        if hidden(value):
            continue
        assert value == expected, key
        assert expected >= 5, key
    for key, expected in truth.items():
        if expected < 5:
            assert cells[key] == PRIMARY, key


async def test_local_picture_counts_age_groups_and_genders_with_small_cells_hidden(store: Database) -> None:
    await generate(store)
    area = reports.resolve_area("1880")
    assert area is not None
    report = await build_report(store, START, END, area=area)
    assert report["total"] == 30
    # one primary cell alone in its sum would be the total less the rest: the smallest other goes too
    assert dim(report, "gender") == {"female": 8, "male": 12, "other": SECONDARY, "unknown": PRIMARY}
    assert dim(report, "age_group") == {
        "under_15": 5,
        "15_17": 6,
        "18_25": SECONDARY,
        "26_35": 5,
        "36_plus": 7,
        "unknown": PRIMARY,
    }
    totals = {d["key"]: d["total"] for d in report["dimensions"]}
    assert totals["gender"] == 30 and totals["age_group"] == 30
    labels = {d["key"]: d["label"] for d in report["dimensions"]}
    assert labels["age_group"]["sv"] == "Åldersgrupp för personen det gäller"
    assert labels["gender"]["en"] == "Gender of the person of concern"
    assert_nothing_recoverable(report)


async def test_period_report_counts_age_groups_and_genders(store: Database) -> None:
    await generate(store)
    report = await build_report(store, START, END)
    assert report["total"] == 35
    gender, age = dim(report, "gender"), dim(report, "age_group")
    assert set(gender) == {*TRUE_GENDER, "not_documented"}
    assert set(age) == {*TRUE_AGE, "not_documented"}
    assert_counts(gender, {**TRUE_GENDER, "not_documented": 5})
    assert_counts(age, {**TRUE_AGE, "not_documented": 5})
    assert gender["male"] == 12 and gender["female"] == 8 and age["36_plus"] == 7
    # "not documented" is one cell in every dimension: hidden alike everywhere
    assert len({dim(report, k)["not_documented"] for k in ("gender", "age_group", "contact_type")}) == 1
    assert_nothing_recoverable(report)


async def test_age_and_gender_cells_are_suppressed_in_json_csv_and_html(sqlite_store: Database) -> None:
    await generate(sqlite_store)
    area = reports.resolve_area("kunskapshus-orebro")
    assert area is not None
    report = await build_report(sqlite_store, START, END, area=area)

    as_json = json.loads(render(report, "json"))
    assert dim(as_json, "gender")["unknown"] == PRIMARY and dim(as_json, "gender")["other"] == SECONDARY
    assert dim(as_json, "age_group")["unknown"] == PRIMARY and dim(as_json, "age_group")["18_25"] == SECONDARY

    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    by_key = {(r["section"], r["dimension"], r["key"]): r for r in rows}
    assert by_key[("dimension", "gender", "unknown")]["value"] == PRIMARY
    assert by_key[("dimension", "gender", "other")]["value"] == SECONDARY
    assert by_key[("dimension", "gender", "male")]["value"] == "12"
    assert by_key[("dimension", "gender", "male")]["label_sv"] == "Man"
    assert by_key[("dimension", "gender", "total")]["value"] == "30"
    assert by_key[("dimension", "age_group", "unknown")]["value"] == PRIMARY
    assert by_key[("dimension", "age_group", "18_25")]["value"] == SECONDARY
    assert by_key[("dimension", "age_group", "36_plus")]["value"] == "7"
    small = [
        r for r in rows if r["dimension"] in ("gender", "age_group") and r["value"] in {"1", "2", "3", "4"}
    ]
    assert small == [], "no age or gender count below 5 is published"

    page = render(report, "html")
    gender = re.search(r'<table data-dimension="gender">(.*?)</table>', page, re.S)
    age = re.search(r'<table data-dimension="age_group">(.*?)</table>', page, re.S)
    assert gender is not None and age is not None
    assert "Kön för personen det gäller" in page and "Age group of the person of concern" in page
    assert re.search(
        r'Man <span class="en" lang="en">/ Male</span></td><td class="num">12</td>', gender.group(1)
    )
    assert re.search(
        r'Okänt <span class="en" lang="en">/ Unknown</span></td><td class="num">&lt;5</td>', gender.group(1)
    )
    assert re.search(
        r'Annat <span class="en" lang="en">/ Other</span></td><td class="num">\.\.</td>', gender.group(1)
    )
    assert ">4<" not in gender.group(1) and ">6<" not in gender.group(1)
    assert re.search(
        r'Okänd <span class="en" lang="en">/ Unknown</span></td><td class="num">&lt;5</td>', age.group(1)
    )
    assert ">2<" not in age.group(1)
