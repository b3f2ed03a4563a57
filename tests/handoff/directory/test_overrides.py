"""The layers over the shipped directory: admins' edits (partial overrides, added and inactive
recipients, Kunskapshus areas) and the deployment's handoff methods."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import ConfigError
from handoff.directory.entries import DirectoryError, HandoffMethod
from handoff.directory.loading import default_directory, dump_directory, load_directory
from handoff.directory.overrides import apply_overrides, parse_recipient_methods, webhook_url_problem
from handoff.referrals.routing import propose
from handoff.referrals.units import user_units

GOTEBORG_AREA = [
    "1440",
    "1489",
    "1480",
    "1401",
    "1482",
    "1441",
    "1462",
    "1481",
    "1402",
    "1415",
    "1419",
    "1407",
]


def ids(d: object, code: str | None, topic: str, contact_type: str = "relative") -> list[str]:
    return [p.recipient_id for p in propose(code, topic, contact_type, directory=d)]  # type: ignore[arg-type]


def test_an_edit_changes_only_the_keys_it_names() -> None:
    base = default_directory()
    d = apply_overrides(
        base, {"exit-fryshuset": {"phone": "08-123 45 67", "topics": ["radicalisation_concern"]}}
    )
    edited, shipped = d.entry("exit-fryshuset"), base.entry("exit-fryshuset")
    assert edited is not None and shipped is not None
    assert edited.phone == "08-123 45 67" and edited.topics == ("radicalisation_concern",)
    assert (edited.name_sv, edited.opening_hours, edited.handoff) == (
        shipped.name_sv,
        shipped.opening_hours,
        shipped.handoff,
    )
    assert "exit-fryshuset" in ids(base, "2584", "exit", "person_leaving")
    assert "exit-fryshuset" not in ids(d, "2584", "exit", "person_leaving")
    assert base.entry("exit-fryshuset") == shipped  # the shipped directory is never changed


def test_an_inactive_recipient_is_kept_but_not_proposed() -> None:
    d = apply_overrides(default_directory(), {"bris": {"active": False}})
    assert d.recipient("bris") is None
    entry = d.entry("bris")
    assert entry is not None and entry.active is False
    assert "bris" not in ids(d, None, "child_at_risk")
    assert "bris" in ids(default_directory(), None, "child_at_risk")


def test_a_municipalitys_social_services_are_edited_without_a_second_entry() -> None:
    base = default_directory()
    methods = [{"method": "portal"}, {"method": "email", "address": "soc@kiruna.example"}]
    d = apply_overrides(base, {"socialtjanst-2584": {"handoff": methods, "phone": "0980-700 00"}})
    social = d.social_services("2584")
    assert social is not None and social.municipality_code == "2584"
    assert [m.method for m in social.handoff] == ["portal", "email"] and social.phone == "0980-700 00"
    assert len(d.all_recipients()) == len(base.all_recipients())
    off = apply_overrides(base, {"socialtjanst-2584": {"active": False}})
    assert off.social_services("2584") is None
    assert "socialtjanst-2584" not in ids(off, "2584", "child_at_risk")


def test_an_inactive_kunskapshus_is_not_proposed_but_its_portal_users_keep_access() -> None:
    d = apply_overrides(default_directory(), {"kunskapshus-goteborg": {"active": False}})
    assert d.kunskapshus_for("1480") is None
    assert "kunskapshus-goteborg" not in ids(d, "1480", "radicalisation_concern")
    assert user_units("KH1480", d) == frozenset({"kunskapshus-goteborg"})


def test_a_kunskapshus_area_is_edited_and_overlaps_are_refused() -> None:
    base = default_directory()
    d = apply_overrides(
        base,
        {
            "kunskapshus-goteborg": {"serves": {"counties": [], "municipalities": GOTEBORG_AREA}},
            "kunskapshus-stockholm": {"serves": {"counties": ["01"], "municipalities": ["1384"]}},
        },
    )
    house = d.kunskapshus_for("1384")  # Kungsbacka moved from Göteborg to Stockholm
    assert house is not None and house.id == "kunskapshus-stockholm"
    assert ids(d, "1384", "radicalisation_concern")[0] == "kunskapshus-stockholm"
    with pytest.raises(DirectoryError, match="already served"):
        apply_overrides(
            base, {"kunskapshus-stockholm": {"serves": {"counties": ["01", "14"], "municipalities": []}}}
        )
    # A municipality's social services serve their municipality; another recipient's area must exist.
    with pytest.raises(DirectoryError, match="own municipality"):
        apply_overrides(base, {"socialtjanst-1480": {"serves": {"counties": ["14"], "municipalities": []}}})
    with pytest.raises(DirectoryError, match="no county"):
        apply_overrides(base, {"bris": {"serves": {"counties": ["99"], "municipalities": []}}})


def test_an_added_recipient_is_proposed_nationally() -> None:
    entry = {
        "name": {"sv": "Avhopparstöd Norr", "en": "Exit support North"},
        "kind": "civil_society",
        "topics": ["exit"],
        "target_groups": ["person_leaving"],
        "languages": ["sv", "se"],
        "opening_hours": "mon-fri 09-17",
        "phone": "",
        "website": "https://avhopp.example",
        "handoff": [{"method": "email", "address": "kontakt@avhopp.example"}],
    }
    d = apply_overrides(default_directory(), {"avhopparstod-norr": entry})
    assert "avhopparstod-norr" in ids(d, "2584", "exit", "person_leaving")
    with pytest.raises(DirectoryError, match="topics"):
        apply_overrides(default_directory(), {"x-org": {**entry, "topics": ["terror"]}})


def test_the_deployments_methods_lie_over_the_admins_edits() -> None:
    edits = {"polisen": {"handoff": [{"method": "email", "address": "admin@polisen.example"}]}}
    methods = {"polisen": (HandoffMethod("email", address="ops@polisen.example"),)}
    police = apply_overrides(default_directory(), edits, methods).entry("polisen")
    assert police is not None and police.electronic_methods == methods["polisen"]
    shipped = default_directory().entry("polisen")
    assert shipped is not None and shipped.electronic_methods == ()  # shipped: no e-mail, no webhook


def test_recipient_methods_in_the_configuration_are_checked() -> None:
    ok = parse_recipient_methods(
        {
            "polisen": [{"method": "email", "address": "tips@polisen.example"}],
            "sakerhetspolisen": [{"method": "webhook", "url": "https://relay.example/sapo"}],
        },
        webhook_secrets={"sakerhetspolisen": "s3cret"},
    )
    assert ok["polisen"] == (HandoffMethod("email", address="tips@polisen.example"),)
    for bad, key in (
        (
            {"polisen": [{"method": "email", "address": "tips(at)polisen"}]},
            "handoff.recipient_methods.polisen[0].address",
        ),
        (
            {"polisen": [{"method": "webhook", "url": "http://relay.example/x"}]},
            "handoff.recipient_methods.polisen[0].url",
        ),
        (
            {"polisen": [{"method": "webhook", "url": "https://relay.example/x"}]},
            "handoff.webhook_secrets.polisen",
        ),
        ({"polisen": [{"method": "fax"}]}, "handoff.recipient_methods.polisen[0].method"),
        ({"polisen": "tips@polisen.example"}, "handoff.recipient_methods.polisen"),
        ({"Polisen!": []}, "handoff.recipient_methods.Polisen!"),
    ):
        with pytest.raises(ConfigError) as caught:
            parse_recipient_methods(bad, webhook_secrets={})
        assert key in str(caught.value), (bad, str(caught.value))


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://relay.example/hook", None),
        ("http://127.0.0.1:8080/hook", None),
        ("http://localhost/hook", None),
        ("http://relay.example/hook", "webhook_not_https"),
        ("ftp://relay.example/hook", "invalid_url"),
        ("https://user:pw@relay.example/hook", "invalid_url"),
        ("https:///nohost", "invalid_url"),
        ("https://relay.example/a b", "invalid_url"),
    ],
)
def test_webhook_urls(url: str, problem: str | None) -> None:
    assert webhook_url_problem(url) == problem


def test_inactive_survives_dump_and_load(tmp_path: Path) -> None:
    d = apply_overrides(default_directory(), {"bris": {"active": False}})
    dump_directory(d, tmp_path)
    again = load_directory(tmp_path)
    assert again.recipient("bris") is None and again.entry("bris") == d.entry("bris")
    assert (tmp_path / "recipients.yml").read_text().count("active: false") == 1  # only where it is
