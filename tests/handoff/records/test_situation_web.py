"""The local situational picture on the municipality portal: a municipality user sees their own
municipality, a Kunskapshus user the municipalities it serves, and nobody ever another area's
counts, on the page or through the API; small cells are suppressed on the page as in the reports."""

from __future__ import annotations

import csv
import html
import io
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from gateway.appkeys import DB
from gateway.store.db import Database
from handoff.records.reports.service import PRIMARY
from tests.handoff.records.conftest import Conversation, DocumentationRecord, add_user, create_tables
from tests.handoff.records.test_web import Site
from tests.harness import make_settings, start

PAGE = "/console/portal"
API = "/console/portal/api/situation"
PERIOD = "?from=2025-03-03&to=2025-03-16"
W10 = datetime(2025, 3, 3, 9, tzinfo=UTC)  # Monday, ISO week 2025-W10
W11 = datetime(2025, 3, 10, 9, tzinfo=UTC)

# municipality: (county, environment, contact type, outcome, referred, [(week start, age, gender, n)])
AREAS: dict[str, tuple[str, str, str, str, bool, list[tuple[datetime, str, str, int]]]] = {
    "1880": (  # Örebro, served by Kunskapshus Örebro
        "18",
        "violent_right_wing",
        "relative",
        "advice_given",
        False,
        [(W10, "15_17", "male", 7), (W11, "15_17", "male", 1), (W11, "18_25", "male", 5)],
    ),
    "1883": (  # Karlskoga, also served by Kunskapshus Örebro
        "18",
        "violent_right_wing",
        "relative",
        "advice_given",
        False,
        [(W10, "18_25", "male", 7)],
    ),
    "0180": (  # Stockholm
        "01",
        "islamist",
        "professional",
        "referred",
        True,
        [(W10, "36_plus", "female", 15), (W11, "36_plus", "female", 14)],
    ),
    "1480": (  # Göteborg
        "14",
        "left_wing_autonomous",
        "person_leaving",
        "contact_ended",
        False,
        [(W11, "under_15", "other", 17)],
    ),
}


async def generate(db: Database) -> None:
    async with db.session() as s:
        user = await add_user(s, "anna")
        for muni, (county, env, contact, outcome, referred, batches) in AREAS.items():
            for start, age, gender, n in batches:
                for i in range(n):
                    at = start + timedelta(hours=3 * i)
                    conv_id = uuid.uuid4().hex
                    s.add(
                        Conversation(
                            id=conv_id,
                            channel="webchat",
                            pseudonym="",
                            state="documented",
                            priority=1,
                            intent="concern_relative",
                            created_at=at,
                            queued_at=at,
                            assigned_to=user.id,
                            first_assigned_at=at + timedelta(minutes=2),
                            closed_at=at + timedelta(minutes=30),
                            last_message_at=at,
                            meta={},
                        )
                    )
                    s.add(
                        DocumentationRecord(
                            conversation_id=conv_id,
                            fields={},
                            contact_type=contact,
                            environment=env,
                            age_group=age,
                            gender=gender,
                            municipality_code=muni,
                            county_code=county,
                            outcome=outcome,
                            referral_made=referred,
                            crime_info_passed=False,
                            summary="",
                        )
                    )


@pytest.fixture
async def site(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    started = await start(make_settings(sqlite_url, tmp_path), memory=True)
    server = started.server
    await create_tables(server.app[DB])  # type: ignore[index]
    s = Site(server, [])
    await generate(s.db)
    await s.user("orebro", "municipality", municipality_code="1880")
    await s.user("kh.orebro", "municipality", municipality_code="KH1880")
    await s.user("sthlm", "municipality", municipality_code="0180")
    try:
        yield s
    finally:
        for http in s.sessions:
            await http.close()
        await started.close()


async def page_of(site: Site, http: aiohttp.ClientSession, query: str = PERIOD) -> str:
    async with http.get(site.url(PAGE + query)) as resp:
        assert resp.status == 200
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
        return await resp.text()


async def api_of(site: Site, http: aiohttp.ClientSession, query: str = PERIOD) -> aiohttp.ClientResponse:
    resp = await http.get(site.url(API + query))
    await resp.read()
    return resp


def tables(page: str) -> dict[str, dict[str, str]]:
    """The picture's tables on the page: dimension -> {cell key: shown value}."""
    out: dict[str, dict[str, str]] = {}
    for key, body in re.findall(
        r'<table class="sit-table" data-dimension="([a-z_]+)">(.*?)</table>', page, re.S
    ):
        rows = re.findall(r'<tr data-key="([^"]+)"><td>[^<]*</td><td class="num">([^<]*)</td>', body)
        out[key] = {k: html.unescape(v) for k, v in rows}
    return out


def total_of(page: str) -> str:
    found = re.search(r'<strong id="situation-total">([^<]*)</strong>', page)
    assert found is not None, "the page shows the picture's total"
    return html.unescape(found.group(1))


def json_dims(report: dict[str, object]) -> dict[str, dict[str, object]]:
    dims = report["dimensions"]
    assert isinstance(dims, list)
    return {d["key"]: {c["key"]: c["value"] for c in d["cells"]} for d in dims}


def assert_no_other_area(page: str) -> None:
    """Nothing of Stockholm's, Göteborg's (or, for Örebro municipality, Karlskoga's) data."""
    for marker in ('data-key="0180"', 'data-key="1480"', "Göteborg", "Stockholms stad"):
        assert marker not in page, marker


async def test_a_municipality_user_sees_the_picture_of_their_own_municipality(site: Site) -> None:
    http, _ = await site.login("orebro")
    page = await page_of(site, http)
    assert 'id="situation-area" data-area="1880">Örebro kommun<' in page
    assert "Lokal lägesbild" in page and "Europe/Stockholm" in page
    assert total_of(page) == "13"
    shown = tables(page)
    assert shown["environment"]["violent_right_wing"] == "13"
    assert shown["environment"]["islamist"] == PRIMARY, "Stockholm's 29 never appear"
    assert shown["environment"]["left_wing_autonomous"] == PRIMARY, "Göteborg's 17 never appear"
    assert '<td class="num">&lt;5</td>' in page, "the page's output is escaped"
    assert shown["age_group"] == {
        "under_15": PRIMARY,
        "15_17": "8",
        "18_25": "5",
        "26_35": PRIMARY,
        "36_plus": PRIMARY,
        "unknown": PRIMARY,
    }
    assert shown["gender"] == {"female": PRIMARY, "male": "13", "other": PRIMARY, "unknown": PRIMARY}
    assert shown["contact_type"]["relative"] == "13" and shown["contact_type"]["professional"] == PRIMARY
    assert shown["outcome"]["advice_given"] == "13" and shown["outcome"]["referred"] == PRIMARY
    assert shown["referral_made"] == {"yes": PRIMARY, "no": "13"}
    assert shown["intent"]["concern_relative"] == "13"
    assert shown["weekly"] == {"2025-W10": "7", "2025-W11": "6"}
    assert "municipality" not in shown, "one municipality needs no breakdown by municipality"
    assert "Karlskoga" not in page
    assert_no_other_area(page)
    numbers = {v for t in shown.values() for v in t.values()}
    assert not numbers & {"14", "15", "17", "20", "29"}, numbers
    # the weekly chart is inline SVG; the page has no inline script
    assert '<svg class="chart week-totals"' in page
    assert re.findall(r"<script[^>]*>", page) == [
        '<script type="application/json" id="i18n">',
        '<script src="/console/static/common.js">',
        '<script src="/console/static/portal.js">',
    ]

    # asking the page for another area changes nothing: the page takes no area
    other = await page_of(site, http, PERIOD + "&area=0180")
    assert total_of(other) == "13" and 'data-area="1880"' in other
    assert_no_other_area(other)

    english = await page_of(site, http, PERIOD + "&lang=en")
    assert "Local situational picture" in english and "Örebro municipality" in english
    assert re.search(r'<tr data-key="male"><td>Male</td><td class="num">13</td>', english)


async def test_a_kunskapshus_user_sees_the_municipalities_it_serves(site: Site) -> None:
    http, _ = await site.login("kh.orebro")
    page = await page_of(site, http)
    assert 'data-area="kunskapshus-orebro"' in page
    assert total_of(page) == "20"
    shown = tables(page)
    assert shown["municipality"]["1880"] == "13" and shown["municipality"]["1883"] == "7"
    assert set(shown["municipality"]) == {
        "1814",
        "1860",
        "1861",
        "1862",
        "1863",
        "1864",
        "1880",
        "1881",
        "1882",
        "1883",
        "1884",
        "1885",
    }
    assert all(v == PRIMARY for k, v in shown["municipality"].items() if k not in ("1880", "1883"))
    assert shown["age_group"]["15_17"] == "8" and shown["age_group"]["18_25"] == "12"
    assert shown["gender"]["male"] == "20" and shown["gender"]["female"] == PRIMARY
    assert shown["environment"]["islamist"] == PRIMARY
    assert shown["weekly"] == {"2025-W10": "14", "2025-W11": "6"}
    assert "Karlskoga" in page
    assert_no_other_area(page)

    resp = await api_of(site, http)
    assert resp.status == 200
    report = await resp.json()
    assert report["area"]["id"] == "kunskapshus-orebro" and report["total"] == 20
    dims = json_dims(report)
    assert {k for k, v in dims["municipality"].items() if v != PRIMARY} == {"1880", "1883"}
    assert dims["environment"]["islamist"] == PRIMARY and dims["gender"]["male"] == 20
    for query in ("&area=0180", "&area=1880", "&area=18", "&area=kunskapshus-stockholm"):
        assert (await api_of(site, http, PERIOD + query)).status == 403, query


async def test_the_api_answers_a_municipality_user_for_their_own_municipality_only(site: Site) -> None:
    orebro, _ = await site.login("orebro")
    resp = await api_of(site, orebro)
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    report = await resp.json()
    assert report["area"] == {
        "id": "1880",
        "kind": "municipality",
        "name": {"sv": "Örebro kommun", "en": "Örebro municipality"},
        "municipalities": ["1880"],
    }
    assert report["total"] == 13 and report["time_zone"]["name"] == "Europe/Stockholm"
    dims = json_dims(report)
    assert dims["municipality"] == {"1880": 13}
    assert dims["age_group"]["15_17"] == 8 and dims["gender"]["male"] == 13
    assert dims["environment"]["islamist"] == PRIMARY
    # a bigger area that holds their own, or another one, is refused
    for query in ("&area=0180", "&area=kunskapshus-orebro", "&area=KH1880", "&area=18", "&area=1883"):
        assert (await api_of(site, orebro, PERIOD + query)).status == 403, query
    assert (await api_of(site, orebro, PERIOD + "&area=1880")).status == 200

    resp = await api_of(site, orebro, PERIOD + "&format=csv")
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert next(r for r in rows if r["section"] == "total")["value"] == "13"
    assert {r["key"] for r in rows if r["dimension"] == "municipality"} == {"1880", "total"}
    assert [r["value"] for r in rows if r["dimension"] == "gender" and r["key"] == "male"] == ["13"]

    resp = await api_of(site, orebro, PERIOD + "&format=html")
    assert resp.status == 200
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script" not in csp
    printable = await resp.text()
    assert "Lokal lägesbild" in printable and "Örebro kommun" in printable
    assert 'data-dimension="gender"' in printable and "Göteborg" not in printable
    # In the member of staff's language only (Swedish here): no English beside it.
    assert '<html lang="sv">' in printable and 'lang="en"' not in printable
    assert "Local situational picture" not in printable and "Total" not in printable

    sthlm, _ = await site.login("sthlm")
    report = await (await api_of(site, sthlm)).json()
    assert report["total"] == 29 and json_dims(report)["environment"]["islamist"] == 29
    assert json_dims(report)["environment"]["violent_right_wing"] == PRIMARY
    page = await page_of(site, sthlm)
    assert total_of(page) == "29" and tables(page)["gender"]["female"] == "29"
    assert tables(page)["gender"]["male"] == PRIMARY and "Örebro" not in page


async def test_a_bad_period_or_an_account_without_an_area_shows_no_picture(site: Site) -> None:
    orebro, _ = await site.login("orebro")
    page = await page_of(site, orebro, "?from=2025-03-16&to=2025-03-01")
    assert 'id="situation-error"' in page and "Ogiltig period" in page
    assert 'id="situation-total"' not in page
    assert (await api_of(site, orebro, "?from=2025-03-16&to=2025-03-01")).status == 400
    assert (await api_of(site, orebro, "?from=nonsense")).status == 400

    default = await page_of(site, orebro, "")  # the last 90 days (nothing then)
    assert total_of(default) == PRIMARY

    await site.user("county", "municipality", municipality_code="18")
    county, _ = await site.login("county")
    page = await page_of(site, county)
    assert 'id="situation-error"' in page and 'id="situation-total"' not in page
    assert "Ditt konto är inte kopplat" in page
    assert (await api_of(site, county)).status == 403


async def test_an_admins_edit_of_a_kunskapshus_reaches_its_situational_picture(site: Site) -> None:
    """The area and the name a Kunskapshus has in the directory the admins edit (not the shipped
    one): Karlskoga leaves Kunskapshus Örebro's area, and the house is renamed."""
    await site.user("ada", "admin")
    await site.user("siv", "supervisor")
    admin, csrf = await site.login("ada")
    headers = {"X-CSRF-Token": csrf}
    directory = "/console/api/directory"
    async with admin.get(site.url(f"{directory}/recipients/kunskapshus-orebro")) as resp:
        house = (await resp.json())["recipient"]
    area = [m["code"] for m in house["serves"]["area"] if m["code"] != "1883"]
    async with admin.post(
        site.url(f"{directory}/kunskapshus/kunskapshus-orebro/area"),
        json={"counties": [], "municipalities": area, "revision": house["revision"]},
        headers=headers,
    ) as resp:
        assert resp.status == 200, await resp.text()
        house = (await resp.json())["recipient"]
    form = {
        "name_sv": "Kunskapscentrum Örebro",
        "name_en": "Örebro Knowledge Centre (renamed)",
        "kind": house["kind"],
        "topics": house["topics"],
        "target_groups": house["target_groups"],
        "languages": house["languages"],
        "opening_hours": house["opening_hours"],
        "phone": house["phone"],
        "emergency_phone": house["emergency_phone"],
        "website": house["website"],
        "methods": house["form_methods"],
        "revision": house["revision"],
    }
    async with admin.post(
        site.url(f"{directory}/recipients/kunskapshus-orebro"), json=form, headers=headers
    ) as resp:
        assert resp.status == 200, await resp.text()

    http, _ = await site.login("kh.orebro")
    page = await page_of(site, http)
    assert total_of(page) == "13", "Karlskoga's 7 are no longer in the area"
    assert "1883" not in tables(page)["municipality"] and "Karlskoga" not in page
    assert "Kunskapscentrum Örebro" in page
    report = await (await api_of(site, http)).json()
    assert report["total"] == 13 and "1883" not in report["area"]["municipalities"]
    assert report["area"]["name"]["sv"] == "Kunskapscentrum Örebro"

    supervisor, _ = await site.login("siv")
    report = await (await api_of(site, supervisor, PERIOD + "&area=kunskapshus-orebro")).json()
    assert report["total"] == 13 and len(report["area"]["municipalities"]) == 11
