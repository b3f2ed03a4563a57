"""Routing proposals: clear recipients first, Kunskapshus inside their areas, opening hours."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from gateway.errors import InvalidInput
from handoff.directory.catalog import Directory
from handoff.directory.loading import default_directory, dump_directory, load_directory
from handoff.directory.overrides import apply_overrides
from handoff.referrals.routing import TIER_CLEAR, TIER_LOCAL, TIER_NATIONAL, Proposal, propose

TUESDAY_10 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 10:00 in Sweden
SATURDAY_NIGHT = datetime(2026, 11, 21, 22, 0, tzinfo=UTC)  # 23:00 in Sweden


def ids(
    code: str | None, topic: str, contact_type: str = "relative", now: datetime | None = None
) -> list[str]:
    return [p.recipient_id for p in propose(code, topic, contact_type, now=now)]


@pytest.mark.parametrize(
    ("code", "house"),
    [
        ("2081", "kunskapshus-borlange"),  # Borlänge itself
        ("2062", "kunskapshus-borlange"),  # Mora, Dalarna
        ("1880", "kunskapshus-orebro"),
        ("1883", "kunskapshus-orebro"),  # Karlskoga
        ("1480", "kunskapshus-goteborg"),
        ("1481", "kunskapshus-goteborg"),  # Mölndal
        ("0180", "kunskapshus-stockholm"),
        ("0114", "kunskapshus-stockholm"),  # Upplands Väsby
    ],
)
def test_radicalisation_inside_a_kunskapshus_area_goes_there_first(code: str, house: str) -> None:
    proposed = ids(code, "radicalisation_concern")
    assert proposed[:2] == [house, f"socialtjanst-{code}"]
    assert "exit-fryshuset" in proposed[2:]


@pytest.mark.parametrize(
    "code", ["2584", "1280", "0380", "1490", "0980"]
)  # Kiruna, Malmö, Uppsala, Borås, Gotland
def test_radicalisation_outside_goes_to_social_services_then_national(code: str) -> None:
    proposed = ids(code, "radicalisation_concern")
    assert proposed[0] == f"socialtjanst-{code}"
    assert not any(r.startswith("kunskapshus-") for r in proposed)
    assert "exit-fryshuset" in proposed[1:]


def test_exit_outside_proposes_exit_fryshuset_after_social_services() -> None:
    proposed = ids("2584", "exit", "person_leaving")
    assert proposed[:2] == ["socialtjanst-2584", "exit-fryshuset"]


def test_professionals_also_get_cve() -> None:
    assert "cve-bra" in ids("1280", "professional_advice", "professional")
    assert "cve-bra" not in ids("1280", "professional_advice", "relative")


@pytest.mark.parametrize("code", ["1880", "2584"])
def test_crime_goes_to_the_police_not_to_a_kunskapshus(code: str) -> None:
    proposals = propose(code, "crime", "relative")
    assert [p.recipient_id for p in proposals[:2]] == ["polisen", "sakerhetspolisen"]
    assert proposals[0].tier == TIER_CLEAR
    assert "114 14" in proposals[0].reason_sv and "114 14" in proposals[0].reason_en
    assert not any(p.recipient_id.startswith("kunskapshus-") for p in proposals)


@pytest.mark.parametrize("code", ["0180", "2584"])
def test_child_at_risk_goes_to_the_municipalitys_social_services(code: str) -> None:
    proposals = propose(code, "child_at_risk", "professional")
    assert proposals[0].recipient_id == f"socialtjanst-{code}"
    assert "orosanmälan" in proposals[0].reason_sv
    assert not any(p.recipient_id.startswith("kunskapshus-") for p in proposals)


def test_child_at_risk_without_municipality_goes_to_bris_and_asks_for_one() -> None:
    proposals = propose(None, "child_at_risk", "relative")
    assert proposals[0].recipient_id == "bris"
    assert "kommun" in proposals[0].reason_sv and "municipality" in proposals[0].reason_en


@pytest.mark.parametrize("code", [None, "1480", "2584"])
def test_self_harm_goes_to_mind_1177_and_112(code: str | None) -> None:
    assert ids(code, "self_harm", "other")[:3] == ["mind-sjalvmordslinjen", "vardguiden-1177", "sos-112"]


@pytest.mark.parametrize("code", [None, "0180", "2584"])
def test_imminent_danger_is_112_first(code: str | None) -> None:
    proposals = propose(code, "imminent_danger", "relative", now=SATURDAY_NIGHT)
    assert proposals[0].recipient_id == "sos-112"
    assert "112" in proposals[0].reason_sv
    assert proposals[0].open_now is True


def test_violence_in_close_relationship() -> None:
    proposed = ids("1280", "violence_close_relationship")
    assert proposed[:2] == ["kvinnofridslinjen", "socialtjanst-1280"]
    assert "skr-jourer" in proposed


def test_no_municipality_gives_national_and_civil_society_only() -> None:
    proposals = propose(None, "radicalisation_concern", "relative")
    assert proposals
    assert all(p.recipient.kind in ("state", "regional", "civil_society") for p in proposals)
    assert "Ingen kommun" in proposals[0].reason_sv and "No municipality" in proposals[0].reason_en


def test_every_proposal_has_reasons_in_both_languages() -> None:
    for code in (None, "1880", "2584"):
        for topic in ("crime", "exit", "trauma", "travel_conflict", "child_at_risk"):
            for p in propose(code, topic, "relative"):
                assert p.reason_sv and p.reason_en and p.reason_sv != p.reason_en
                assert p.reason("en") == p.reason_en


def test_closed_recipients_come_after_open_ones_but_are_kept() -> None:
    office = ids("2584", "radicalisation_concern", now=TUESDAY_10)
    night = propose("2584", "radicalisation_concern", "relative", now=SATURDAY_NIGHT)
    assert [p.recipient_id for p in night] == office  # same recipients, none dropped
    social = night[0]
    assert social.open_now is False
    assert "Stängt just nu" in social.reason_sv and "Closed right now" in social.reason_en


def test_open_recipient_moves_up_within_its_tier(tmp_path: Path) -> None:
    directory = load_directory()
    dump_directory(directory, tmp_path)
    path = tmp_path / "recipients.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["recipients"].append(
        {
            "id": "nattjouren",
            "name": {"sv": "Nattjouren", "en": "Night line"},
            "kind": "civil_society",
            "topics": ["exit"],
            "target_groups": ["any"],
            "languages": ["sv"],
            "opening_hours": "mon-sun 20-06",
            "phone": "",
            "website": "",
            "handoff": [],
        }
    )
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    edited = load_directory(tmp_path)

    day = [
        p.recipient_id for p in propose("2584", "exit", "person_leaving", now=TUESDAY_10, directory=edited)
    ]
    night = [
        p.recipient_id
        for p in propose("2584", "exit", "person_leaving", now=SATURDAY_NIGHT, directory=edited)
    ]
    assert day.index("exit-fryshuset") < day.index("nattjouren")
    assert night.index("nattjouren") < night.index("exit-fryshuset")
    # the municipal tier stays first even when it is closed
    assert night[0] == "socialtjanst-2584"
    assert sorted(day) == sorted(night)


def test_without_now_open_is_unknown() -> None:
    assert all(p.open_now is None for p in propose("1880", "exit", "relative"))


@pytest.mark.parametrize(
    ("code", "topic", "contact_type"),
    [("9999", "exit", "relative"), ("1880", "weather", "relative"), ("1880", "exit", "alien")],
)
def test_unknown_input_is_refused(code: str, topic: str, contact_type: str) -> None:
    with pytest.raises(InvalidInput):
        propose(code, topic, contact_type)


# ------------------------------------------------------------------ recipients with an area of their own
def _local(rid: str, kind: str, serves: dict[str, list[str]], **changes: object) -> dict[str, object]:
    """An admin's added recipient (the override is the whole entry) serving an area."""
    return {
        rid: {
            "name": {"sv": f"Lokal {rid}", "en": f"Local {rid}"},
            "kind": kind,
            "topics": ["radicalisation_concern", "exit"],
            "target_groups": ["any"],
            "languages": ["sv"],
            "opening_hours": "mon-fri 08-16",
            "phone": "031-00 00 00",
            "website": "",
            "handoff": [{"method": "email", "address": f"{rid}@kommun.example"}],
            "serves": serves,
            **changes,
        }
    }


def _local_directory(*entries: dict[str, object]) -> Directory:
    overrides: dict[str, dict[str, object]] = {}
    for entry in entries:
        overrides.update(entry)  # type: ignore[arg-type]
    return apply_overrides(default_directory(), overrides)


def test_local_recipients_are_proposed_in_the_local_tier_inside_their_area_only() -> None:
    d = _local_directory(
        _local("radikal-goteborg", "municipal", {"counties": [], "municipalities": ["1480"]}),
        _local("vgr-stod", "regional", {"counties": ["14"], "municipalities": []}),
        _local("forening-vast", "civil_society", {"counties": [], "municipalities": ["1480", "1481"]}),
    )
    proposals = propose("1480", "radicalisation_concern", "relative", directory=d)
    # The Kunskapshus and the social services first, then the most local of the rest.
    assert [p.recipient_id for p in proposals[:5]] == [
        "kunskapshus-goteborg",
        "socialtjanst-1480",
        "radikal-goteborg",
        "forening-vast",
        "vgr-stod",
    ]
    assert [p.tier for p in proposals[:5]] == [TIER_LOCAL] * 5
    assert all(p.tier == TIER_NATIONAL for p in proposals[5:]) and "exit-fryshuset" in ids_of(proposals[5:])
    local = proposals[2]
    assert "Göteborg" in local.reason_sv and "Göteborg" in local.reason_en
    # Borås is in the county (14) only; Malmö in none of the areas; no municipality: none of them.
    assert [r for r in ids_in(d, "1490") if r in LOCAL_IDS] == ["vgr-stod"]
    assert not LOCAL_IDS & set(ids_in(d, "1280"))
    assert not LOCAL_IDS & set(ids_in(d, None))


def test_local_recipients_need_the_topic_the_contact_type_and_to_be_active() -> None:
    d = _local_directory(
        _local("radikal-goteborg", "municipal", {"counties": [], "municipalities": ["1480"]}),
        _local(
            "yrkesstod-vast",
            "regional",
            {"counties": ["14"], "municipalities": []},
            target_groups=["professional"],
        ),
        _local("vilande", "municipal", {"counties": [], "municipalities": ["1480"]}, active=False),
    )
    assert "radikal-goteborg" not in ids_in(d, "1480", "trauma")
    assert "yrkesstod-vast" not in ids_in(d, "1480", "exit", "relative")
    assert "yrkesstod-vast" in ids_in(d, "1480", "exit", "professional")
    assert "vilande" not in ids_in(d, "1480", "exit")  # inactive: never proposed
    assert d.entry("vilande") is not None


def test_the_clear_recipient_stays_first_before_local_recipients() -> None:
    d = _local_directory(
        _local(
            "brottsofferjour-goteborg",
            "civil_society",
            {"counties": [], "municipalities": ["1480"]},
            topics=["crime"],
        )
    )
    proposals = propose("1480", "crime", "relative", directory=d)
    assert [p.recipient_id for p in proposals[:3]] == [
        "polisen",
        "sakerhetspolisen",
        "brottsofferjour-goteborg",
    ]
    assert [p.tier for p in proposals[:3]] == [TIER_CLEAR, TIER_CLEAR, TIER_LOCAL]


def test_an_area_survives_dump_and_load(tmp_path: Path) -> None:
    d = _local_directory(_local("vgr-stod", "regional", {"counties": ["14"], "municipalities": ["1384"]}))
    dump_directory(d, tmp_path)
    again = load_directory(tmp_path)
    assert again.entry("vgr-stod") == d.entry("vgr-stod")
    assert ids_in(again, "1384") == ids_in(d, "1384") and "vgr-stod" in ids_in(again, "1384")


LOCAL_IDS = {"radikal-goteborg", "vgr-stod", "forening-vast"}


def ids_of(proposals: list[Proposal]) -> list[str]:
    return [p.recipient_id for p in proposals]


def ids_in(
    d: Directory, code: str | None, topic: str = "radicalisation_concern", ct: str = "relative"
) -> list[str]:
    return ids_of(propose(code, topic, ct, directory=d))


def test_reasons_name_the_recipient_rule_and_the_topic_in_each_language() -> None:
    danger = propose(None, "imminent_danger", "other")
    assert danger[0].recipient_id == "sos-112"
    assert danger[0].reason("sv") == "Akut fara: ring 112 genast."
    assert danger[0].reason("en") == "Imminent danger: call 112 at once."
    exit_ = propose("1880", "exit", "person_leaving")
    assert any("avhopp" in p.reason_sv and "leaving a movement" in p.reason_en for p in exit_)
