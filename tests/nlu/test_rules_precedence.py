"""The schema's precedence, on top of whatever the model ranks first."""

from __future__ import annotations

from gateway.envelope import Priority
from nlu.triage import EmbeddedTriager, decide


def test_travel_conflict_wins_over_leave_and_concern() -> None:
    for top in ("leave_movement", "concern_relative", "concern_professional"):
        d = decide("någonting", [(top, 0.55), ("travel_conflict", 0.40), ("greet", 0.05)])
        assert d.intent == "travel_conflict", top
        assert d.decided_by == "precedence"


def test_travel_rule_wins_over_a_confident_concern_answer() -> None:
    d = decide("min son har åkt till Syrien för att ansluta sig till IS", [("concern_relative", 0.95)])
    assert d.intent == "travel_conflict"
    assert d.matched_rules == ("sv.travel_conflict.resa_strida",)


def test_human_request_only_when_nothing_substantive() -> None:
    d = decide("kan jag prata med någon", [("human_request", 0.9), ("greet", 0.1)])
    assert d.intent == "human_request"
    d = decide("x", [("human_request", 0.6), ("leave_movement", 0.35), ("greet", 0.05)])
    assert d.intent == "leave_movement"


def test_critical_intent_with_enough_probability_wins_over_the_top_intent() -> None:
    d = decide("x", [("concern_relative", 0.6), ("urgent_threat", 0.35), ("greet", 0.05)])
    assert d.intent == "urgent_threat"
    assert d.decided_by == "safety_margin"
    d = decide("x", [("concern_relative", 0.9), ("urgent_threat", 0.05), ("greet", 0.05)])
    assert d.intent == "concern_relative"


def test_empty_ranking_is_out_of_scope() -> None:
    assert decide("", []).intent == "out_of_scope"


async def test_wants_to_leave_and_is_suicidal_gives_self_harm(triager: EmbeddedTriager) -> None:
    for text in (
        "jag vill lämna rörelsen men jag orkar inte leva längre",
        "I want to leave the group but I think I'll kill myself",
        "vill ut ur gruppen men vill mest bara do",
    ):
        r = await triager.parse(text)
        assert (r.intent, r.priority) == ("self_harm", Priority.CRITICAL), text


async def test_professional_describing_a_plan_is_critical(triager: EmbeddedTriager) -> None:
    for text in (
        "jag är lärare och en elev har sagt att han ska skjuta på skolan på måndag",
        "I'm a social worker and my client says he will bomb the station next week",
    ):
        r = await triager.parse(text)
        assert r.priority == Priority.CRITICAL, text


async def test_past_jokes_and_news_are_not_critical(triager: EmbeddedTriager) -> None:
    for text in (
        "han sa för länge sen att han skulle spränga skolan men det var ett skämt, nu har han nya vänner som oroar mig",
        "vi pratade om attacken i nyheterna och min dotter tyckte att det var rätt",
    ):
        r = await triager.parse(text)
        assert r.priority < Priority.CRITICAL, text
        assert r.intent == "concern_relative", text


async def test_indirect_threat_is_critical(triager: EmbeddedTriager) -> None:
    r = await triager.parse("på fredag kommer alla i skolan att få se")
    assert (r.intent, r.priority) == ("urgent_threat", Priority.CRITICAL)
