"""The shipped directory: all municipalities, the Kunskapshus areas, recipients, and editing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from handoff.directory.catalog import Directory
from handoff.directory.entries import TOPICS, DirectoryError, OpeningHours
from handoff.directory.loading import default_directory, dump_directory, load_directory

T = TypeVar("T")


def must(value: T | None) -> T:
    assert value is not None
    return value


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory()


def test_all_290_municipalities_with_their_21_counties(directory: Directory) -> None:
    codes = list(directory.municipalities)
    assert len(codes) == 290 == len(set(codes))
    for m in directory.municipalities.values():
        assert len(m.code) == 4 and m.code.isdigit()
        assert m.code[:2] == m.county_code
    counties = directory.counties()
    assert len(counties) == 21
    assert {c.code for c in counties} == {
        "01", "03", "04", "05", "06", "07", "08", "09", "10", "12", "13",
        "14", "17", "18", "19", "20", "21", "22", "23", "24", "25",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("code", "name", "county"),
    [
        ("0180", "Stockholm", "Stockholms län"),
        ("1480", "Göteborg", "Västra Götalands län"),
        ("1880", "Örebro", "Örebro län"),
        ("2081", "Borlänge", "Dalarnas län"),
        ("0114", "Upplands Väsby", "Stockholms län"),
        ("2584", "Kiruna", "Norrbottens län"),
        ("1280", "Malmö", "Skåne län"),
        ("0980", "Gotland", "Gotlands län"),
    ],
)
def test_known_codes(directory: Directory, code: str, name: str, county: str) -> None:
    m = must(directory.municipality(code))
    assert m is not None and m.name == name
    county_of = must(directory.county_of(code))
    assert county_of is not None and county_of.name == county


def test_municipality_by_name_ignores_case_and_diacritics(directory: Directory) -> None:
    assert must(directory.municipality_by_name("GOTEBORG")).code == "1480"
    assert must(directory.municipality_by_name("örebro kommun")).code == "1880"
    assert must(directory.municipality_by_name("Stockholms stad")).code == "0180"
    assert must(directory.municipality_by_name("upplands bro")).code == "0139"
    assert must(directory.find_municipality("2584")).name == "Kiruna"
    # Håbo and Habo are two municipalities: the exact spelling decides
    assert must(directory.municipality_by_name("Håbo")).code == "0305"
    assert must(directory.municipality_by_name("Habo")).code == "0643"
    assert directory.municipality_by_name("Atlantis") is None


def test_kunskapshus_areas(directory: Directory) -> None:
    assert {k.id for k in directory.kunskapshus} == {
        "kunskapshus-borlange",
        "kunskapshus-orebro",
        "kunskapshus-goteborg",
        "kunskapshus-stockholm",
    }
    assert must(directory.kunskapshus_for("2062")).id == "kunskapshus-borlange"  # Mora, Dalarna
    assert must(directory.kunskapshus_for("1883")).id == "kunskapshus-orebro"  # Karlskoga
    assert must(directory.kunskapshus_for("1481")).id == "kunskapshus-goteborg"  # Mölndal
    assert must(directory.kunskapshus_for("1384")).id == "kunskapshus-goteborg"  # Kungsbacka (GR, Halland)
    assert must(directory.kunskapshus_for("0114")).id == "kunskapshus-stockholm"
    for outside in ("2584", "1280", "0380", "1490", "1380"):  # Kiruna, Malmö, Uppsala, Borås, Halmstad
        assert directory.kunskapshus_for(outside) is None
    assert len(directory.served_by("kunskapshus-borlange")) == 15


def test_recipients_national_and_municipal(directory: Directory) -> None:
    police = must(directory.recipient("polisen"))
    assert police.phone == "114 14" and police.emergency_phone == "112"
    assert must(directory.recipient("mind-sjalvmordslinjen")).phone == "90101"
    assert must(directory.recipient("bris")).phone == "116 111"
    assert must(directory.recipient("sakerhetspolisen")).kind == "state"
    assert must(directory.recipient("exit-fryshuset")).kind == "civil_society"
    social = must(directory.social_services("2584"))
    assert social.id == "socialtjanst-2584" and social.kind == "municipal"
    assert "Kiruna" in social.name_sv and "Kiruna" in social.name_en
    assert directory.recipient("socialtjanst-2584") == social
    assert len(directory.all_recipients()) == len(directory.recipients) + 4 + 290
    for r in directory.all_recipients():
        assert set(r.topics) <= set(TOPICS)
        assert r.name_sv and r.name_en


def test_recipients_by_topic(directory: Directory) -> None:
    leaving = [r.id for r in directory.recipients_for_topic("exit", target_group="person_leaving")]
    assert "exit-fryshuset" in leaving
    assert "cve-bra" not in leaving  # professionals only
    local = [r.id for r in directory.recipients_for_topic("exit", municipality_code="1880")]
    assert local[:2] == ["kunskapshus-orebro", "socialtjanst-1880"]
    with pytest.raises(ValueError, match="unknown topic"):
        directory.recipients_for_topic("weather")


def test_opening_hours() -> None:
    office = OpeningHours.parse("mon-fri 08-16")
    from datetime import UTC, datetime

    assert office.is_open(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))  # Tuesday 10:00 in Sweden
    assert not office.is_open(datetime(2026, 11, 24, 15, 30, tzinfo=UTC))  # 16:30 in Sweden
    assert not office.is_open(datetime(2026, 11, 21, 10, 0, tzinfo=UTC))  # Saturday
    night = OpeningHours.parse("fri 20-02; sat 10:30-14")
    assert night.is_open(datetime(2026, 11, 21, 1, 0))  # Saturday 01:00, naive = Swedish time
    assert night.is_open(datetime(2026, 11, 21, 10, 30))
    assert OpeningHours.parse("24/7").is_open(datetime(2026, 1, 1, 3, 0, tzinfo=UTC))
    for bad in ("", "sometimes", "mon-fri 8", "fri-mon 08-16", "mon 25-26"):
        with pytest.raises(ValueError):
            OpeningHours.parse(bad)


def test_dump_and_load_are_symmetrical(directory: Directory, tmp_path: Path) -> None:
    dump_directory(directory, tmp_path)
    again = load_directory(tmp_path)
    assert again.municipalities == directory.municipalities
    assert again.recipients == directory.recipients
    assert again.kunskapshus == directory.kunskapshus
    assert again.social_services_by_code == directory.social_services_by_code
    # dumping the reloaded copy gives the same files
    second = tmp_path / "second"
    dump_directory(again, second)
    for name in ("municipalities.csv", "kunskapshus.yml", "recipients.yml"):
        assert (second / name).read_text(encoding="utf-8") == (tmp_path / name).read_text(encoding="utf-8")


def test_an_admin_edit_is_kept(directory: Directory, tmp_path: Path) -> None:
    dump_directory(directory, tmp_path)
    data = yaml.safe_load((tmp_path / "recipients.yml").read_text(encoding="utf-8"))
    data["recipients"].append(
        {
            "id": "socialtjanst-2584",
            "name": {"sv": "Socialtjänsten i Kiruna", "en": "Kiruna social services"},
            "kind": "municipal",
            "topics": ["child_at_risk"],
            "target_groups": ["any"],
            "languages": ["sv", "fi"],
            "opening_hours": "mon-thu 08-16; fri 08-15",
            "phone": "",
            "website": "",
            "handoff": [{"method": "webhook", "url": "https://kiruna.example/hook"}],
        }
    )
    (tmp_path / "recipients.yml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    edited = load_directory(tmp_path)
    social = must(edited.social_services("2584"))
    assert social.name_sv == "Socialtjänsten i Kiruna"
    assert social.handoff[0].url == "https://kiruna.example/hook"
    assert must(edited.social_services("2580")).name_sv == "Socialtjänsten, Luleå"  # others still generated
    dump_directory(edited, tmp_path / "again")
    assert load_directory(tmp_path / "again").social_services("2584") == social


def _write(tmp_path: Path, directory: Directory, edit: Callable[[dict[str, Any]], None]) -> Path:
    dump_directory(directory, tmp_path)
    path = tmp_path / "recipients.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return tmp_path


def test_bad_recipient_is_named(directory: Directory, tmp_path: Path) -> None:
    def bad_topic(data: dict[str, Any]) -> None:
        data["recipients"][3]["topics"].append("weather")

    folder = _write(tmp_path, directory, bad_topic)
    with pytest.raises(DirectoryError) as info:
        load_directory(folder)
    rid = directory.national_recipients()[3].id
    assert rid in info.value.key and "topics" in info.value.key
    assert "weather" in str(info.value)


def test_bad_opening_hours_and_duplicate_id(directory: Directory, tmp_path: Path) -> None:
    def bad_hours(data: dict[str, Any]) -> None:
        data["recipients"][0]["opening_hours"] = "whenever"

    with pytest.raises(DirectoryError, match="opening_hours"):
        load_directory(_write(tmp_path / "a", directory, bad_hours))

    def duplicate(data: dict[str, Any]) -> None:
        data["recipients"].append(dict(data["recipients"][0]))

    with pytest.raises(DirectoryError, match="appears twice"):
        load_directory(_write(tmp_path / "b", directory, duplicate))


def test_bad_municipality_row_is_named(directory: Directory, tmp_path: Path) -> None:
    dump_directory(directory, tmp_path)
    path = tmp_path / "municipalities.csv"
    path.write_text(
        path.read_text(encoding="utf-8").replace("2584,Kiruna,25,", "2584,Kiruna,24,"), encoding="utf-8"
    )
    with pytest.raises(DirectoryError) as info:
        load_directory(tmp_path)
    assert "2584 Kiruna" in info.value.key


def test_unquoted_code_in_kunskapshus_gets_a_hint(directory: Directory, tmp_path: Path) -> None:
    dump_directory(directory, tmp_path)
    path = tmp_path / "kunskapshus.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("host: '2081'", "host: 2081"), encoding="utf-8")
    with pytest.raises(DirectoryError, match="quotes") as info:
        load_directory(tmp_path)
    assert "kunskapshus-borlange" in info.value.key


def test_overlapping_kunskapshus_areas_are_refused(directory: Directory, tmp_path: Path) -> None:
    dump_directory(directory, tmp_path)
    path = tmp_path / "kunskapshus.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["kunskapshus"][1]["serves"]["municipalities"] = ["2081"]  # Örebro also serving Borlänge
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DirectoryError, match="already served by kunskapshus-borlange"):
        load_directory(tmp_path)


def test_default_directory_is_loaded_once() -> None:
    assert default_directory() is default_directory()
