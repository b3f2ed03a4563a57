"""Documentation guidelines: the configured fields, record validation and prefill."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from handoff.records.guideline_checks import prefill, validate_record
from handoff.records.guidelines import (
    DEFAULT_PATH,
    GuidelinesError,
    dump_guidelines,
    load_guidelines,
)

GUIDELINES = load_guidelines()


def complete_record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "contact_type": "relative",
        "relation": "parent",
        "environment": "violent_right_wing",
        "age_group": "15_17",
        "gender": "male",
        "municipality": "2584",
        "advice_given": ["how_to_talk", "local_support"],
        "referral_made": True,
        "referral_recipients": ["socialtjanst-2584"],
        "crime_information_passed": False,
        "outcome": "referred",
        "summary": "Förälder orolig för sonens nya umgänge; slussad till socialtjänsten.",
    }
    record.update(changes)
    return record


def codes(record: dict[str, Any]) -> dict[str, str]:
    return {e.field: e.code for e in validate_record(GUIDELINES, record)}


def test_shipped_guidelines_have_the_required_fields() -> None:
    assert set(GUIDELINES.keys) >= {
        "contact_type",
        "relation",
        "environment",
        "age_group",
        "gender",
        "municipality",
        "advice_given",
        "referral_made",
        "crime_information_passed",
        "outcome",
        "summary",
    }
    assert GUIDELINES.field("contact_type").allowed == ("relative", "professional", "person_leaving", "other")
    assert GUIDELINES.field("environment").allowed == (
        "violent_right_wing",
        "left_wing_autonomous",
        "islamist",
        "other",
        "unclear",
    )
    assert GUIDELINES.field("municipality").type == "municipality"
    assert not GUIDELINES.field("municipality").mandatory
    assert GUIDELINES.field("advice_given").type == "multi_choice"
    assert GUIDELINES.field("referral_made").type == "bool"
    assert GUIDELINES.field("summary").max_length
    for f in GUIDELINES.fields:
        assert f.label_sv and f.label_en
        for c in f.values:
            assert c.label("sv") and c.label("en")


def test_a_complete_record_is_accepted() -> None:
    assert validate_record(GUIDELINES, complete_record()) == []
    no_municipality = complete_record()
    del no_municipality["municipality"]
    assert validate_record(GUIDELINES, no_municipality) == []


def test_missing_mandatory_fields_are_listed() -> None:
    errors = validate_record(GUIDELINES, {"summary": "Kort."})
    missing = {e.field for e in errors if e.code == "missing"}
    assert missing == set(GUIDELINES.mandatory) - {"summary"}
    assert all(e.message_sv != e.message_en for e in errors)
    env = next(e for e in errors if e.field == "environment")
    assert "Miljö" in env.message("sv") and "Environment" in env.message("en")
    f = GUIDELINES.field("environment")
    assert env.message("sv") == f"{f.label_sv}: måste fyllas i."
    assert env.message("en") == f"{f.label_en}: is required."


@pytest.mark.parametrize("empty", [None, "", "   ", []])
def test_empty_values_count_as_missing(empty: Any) -> None:
    assert codes(complete_record(summary=empty))["summary"] == "missing"
    assert codes(complete_record(advice_given=[] if empty is None else empty)).get("advice_given") in (
        "missing",
        "wrong_type",
    )


def test_false_is_an_answer_not_a_missing_value() -> None:
    assert (
        codes(complete_record(referral_made=False, referral_recipients=[], crime_information_passed=False))
        == {}
    )


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"contact_type": "journalist"}, "contact_type", "not_allowed"),
        ({"environment": "anarchist"}, "environment", "not_allowed"),
        ({"advice_given": ["how_to_talk", "magic"]}, "advice_given", "not_allowed"),
        ({"advice_given": "how_to_talk"}, "advice_given", "wrong_type"),
        ({"referral_made": "yes"}, "referral_made", "wrong_type"),
        ({"municipality": "9999"}, "municipality", "not_allowed"),
        ({"municipality": "Kiruna"}, "municipality", "not_allowed"),
        ({"referral_recipients": ["nobody"]}, "referral_recipients", "not_allowed"),
        ({"summary": "x" * 1001}, "summary", "too_long"),
        ({"favourite_colour": "blue"}, "favourite_colour", "unknown_field"),
        ({"referral_made": False}, "referral_made", "inconsistent"),
    ],
)
def test_values_not_allowed(changes: dict[str, Any], field: str, code: str) -> None:
    assert codes(complete_record(**changes)) == {field: code}


def test_summary_at_max_length_is_fine() -> None:
    limit = GUIDELINES.field("summary").max_length
    assert limit is not None
    assert codes(complete_record(summary="x" * limit)) == {}


def test_prefill_from_intent_and_events() -> None:
    leaving = prefill("leave_movement", [])
    assert leaving["contact_type"] == "person_leaving"
    assert leaving["referral_made"] is False and leaving["crime_information_passed"] is False
    assert prefill("concern_relative", [])["contact_type"] == "relative"
    assert prefill("concern_professional", [])["contact_type"] == "professional"

    events = [
        {"type": "referred", "recipient_id": "kunskapshus-orebro"},
        {"type": "referred", "recipient_id": "socialtjanst-1880"},
        {"type": "municipality", "code": "1880"},
    ]
    suggested = prefill("concern_relative", events)
    assert suggested["referral_made"] is True
    assert suggested["referral_recipients"] == ["kunskapshus-orebro", "socialtjanst-1880"]
    assert suggested["municipality"] == "1880"
    assert suggested["outcome"] == "referred"

    disclosed = prefill("urgent_threat", [{"type": "disclosed"}])
    assert disclosed["crime_information_passed"] is True
    assert disclosed["outcome"] == "emergency"
    assert "contact_police" in disclosed["advice_given"]


def test_refused_referral_is_not_a_referral() -> None:
    suggested = prefill(
        "concern_relative", [{"type": "referred", "recipient_id": "bris", "status": "consent_refused"}]
    )
    assert suggested["referral_made"] is False
    assert "referral_recipients" not in suggested


def test_prefill_suggestions_are_valid_values() -> None:
    for intent in (
        "leave_movement",
        "concern_relative",
        "self_harm",
        "urgent_threat",
        "info_request",
        "greet",
        None,
    ):
        suggested = prefill(
            intent, [{"type": "referred", "recipient_id": "exit-fryshuset"}, {"type": "disclosed"}]
        )
        errors = [e for e in validate_record(GUIDELINES, suggested) if e.code != "missing"]
        assert errors == [], intent


def test_dump_and_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "documentation.yml"
    path.write_text(dump_guidelines(GUIDELINES), encoding="utf-8")
    assert load_guidelines(path) == GUIDELINES


def _broken(tmp_path: Path, edit: Any) -> Path:
    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "documentation.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "key_part"),
    [
        (lambda d: d["fields"][2].update(type="dropdown"), "fields[2] (environment).type"),
        (lambda d: d["fields"][0].update(mandatory="yes"), "fields[0] (contact_type).mandatory"),
        (lambda d: d["fields"][0]["label"].pop("en"), "fields[0] (contact_type).label.en"),
        (lambda d: d["fields"][-1].pop("max_length"), "(summary).max_length"),
        (lambda d: d["fields"][1].update(values=[]), "fields[1] (relation).values"),
        (lambda d: d["fields"][1].update(colour="red"), "fields[1] (relation)"),
        (lambda d: d["fields"].append(dict(d["fields"][0])), "(contact_type).key"),
        (
            lambda d: d["fields"][0]["values"].append({"value": "relative", "sv": "x", "en": "y"}),
            "(contact_type).values",
        ),
    ],
)
def test_bad_guidelines_name_the_key(tmp_path: Path, edit: Any, key_part: str) -> None:
    with pytest.raises(GuidelinesError) as info:
        load_guidelines(_broken(tmp_path, edit))
    assert key_part in info.value.key


def test_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(GuidelinesError, match="not found"):
        load_guidelines(tmp_path / "nope.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("fields: [unclosed", encoding="utf-8")
    with pytest.raises(GuidelinesError, match="not valid YAML"):
        load_guidelines(bad)
