from __future__ import annotations

import pytest

from gateway.envelope import Priority
from nlu.result import INTENTS
from nlu.rules import RULES, apply_rules, match_rules
from nlu.triage import EmbeddedTriager, decide

SELF_HARM = [
    # (text, rule id)
    ("jag ska ta livet av mig", "sv.self_harm.ta_livet"),
    ("jag tar livet av mej ikväll", "sv.self_harm.ta_livet"),
    ("hon säger att hon ska ta livet av sig", "sv.self_harm.ta_livet"),
    ("jag tänker ta mitt liv", "sv.self_harm.ta_livet"),
    ("jag vill dö", "sv.self_harm.vill_do"),
    ("jag vill do", "sv.self_harm.vill_do"),
    ("VILL BARA DÖ", "sv.self_harm.vill_do"),
    ("jag vill inte leva längre", "sv.self_harm.vill_inte_leva"),
    ("jag vill inte leva langre", "sv.self_harm.vill_inte_leva"),
    ("orkar inte leva", "sv.self_harm.vill_inte_leva"),
    ("jag har självmordstankar", "sv.self_harm.sjalvmord"),
    ("jag har sjalvmordstankar", "sv.self_harm.sjalvmord"),
    ("jag funderar på självmord", "sv.self_harm.sjalvmord"),
    ("jag skär mig varje kväll", "sv.self_harm.skada_sig"),
    ("jag har skurit mig", "sv.self_harm.skada_sig"),
    ("jag vill skada mig själv", "sv.self_harm.skada_sig"),
    ("jag ska hänga mig", "sv.self_harm.metod"),
    ("jag ska hanga mej", "sv.self_harm.metod"),
    ("ska hoppa framför tåget", "sv.self_harm.metod"),
    ("jag står på bron och tänker hoppa", "sv.self_harm.hoppa"),
    ("det vore bättre om jag var död", "sv.self_harm.inte_kvar"),
    ("jag kommer inte finnas kvar imorgon", "sv.self_harm.inte_kvar"),
    ("I want to kill myself", "en.self_harm.kill_myself"),
    ("she keeps cutting herself", "en.self_harm.kill_myself"),
    ("i feel suicidal", "en.self_harm.suicide"),
    ("I'm going to end my life", "en.self_harm.end_life"),
    ("he wants to take his own life", "en.self_harm.end_life"),
    ("i just wanna die", "en.self_harm.want_die"),
    ("I don't want to live anymore", "en.self_harm.not_live"),
    ("everyone would be better off without me", "en.self_harm.not_live"),
    ("i'll jump off the bridge", "en.self_harm.method"),
    ("i'm going to take all the pills", "en.self_harm.method"),
]

THREATS = [
    ("jag ska döda honom", "sv.urgent_threat.avser_vald"),
    ("jag ska doda honom", "sv.urgent_threat.avser_vald"),
    ("han tänker skjuta läraren", "sv.urgent_threat.avser_vald"),
    ("vi planerar att spränga stationen", "sv.urgent_threat.avser_vald"),
    ("vi ska spranga stationen", "sv.urgent_threat.avser_vald"),
    ("de kommer att attackera moskén", "sv.urgent_threat.avser_vald"),
    ("jag ska skjuta ihjäl dem", "sv.urgent_threat.avser_vald"),
    ("jag har köpt en pistol", "sv.urgent_threat.vapen"),
    ("han bygger en bomb", "sv.urgent_threat.vapen"),
    ("hon har skaffat sprängmedel", "sv.urgent_threat.vapen"),
    ("han har skaffat sprangmedel", "sv.urgent_threat.vapen"),
    ("de planerar ett attentat", "sv.urgent_threat.planerar_dad"),
    ("det kommer att bli ett blodbad", "sv.urgent_threat.planerar_dad"),
    ("på fredag kommer alla i skolan att få se", "sv.urgent_threat.indirekt"),
    ("pa fredag kommer alla i skolan att fa se", "sv.urgent_threat.indirekt"),
    ("ni kommer att ångra er!", "sv.urgent_threat.indirekt"),
    ("läraren ska dö", "sv.urgent_threat.indirekt"),
    ("I'm going to kill him", "en.urgent_threat.intends_violence"),
    ("im gonna shoot them all", "en.urgent_threat.intends_violence"),
    ("we will bomb the parade", "en.urgent_threat.intends_violence"),
    ("he plans to attack the synagogue", "en.urgent_threat.intends_violence"),
    ("I bought a gun", "en.urgent_threat.weapons"),
    ("he is making explosives", "en.urgent_threat.weapons"),
    ("he wants to blow himself up", "en.urgent_threat.weapons"),
    ("they are planning an attack", "en.urgent_threat.plans_attack"),
    ("there will be a bloodbath", "en.urgent_threat.plans_attack"),
    ("on monday everyone will see what i can do", "en.urgent_threat.indirect"),
    ("you will all pay.", "en.urgent_threat.indirect"),
]

NOT_CRITICAL = [
    "vi pratade om attacken i nyheterna",
    "kan vi skjuta upp mötet till nästa vecka",
    "jag vill inte dö",
    "I don't want to die",
    "i'm not going to hurt anyone",
    "jag vill hoppa av gruppen",
    "jag tänker hoppa av",
    "alla kommer att få se filmen imorgon",
    "the suicide bombing was on the news",
    "jag vill lämna rörelsen",
]


@pytest.mark.parametrize(("text", "rule_id"), SELF_HARM + THREATS)
def test_critical_phrase_matches_its_rule(text: str, rule_id: str) -> None:
    ids = [m.rule_id for m in match_rules(text)]
    assert rule_id in ids


@pytest.mark.parametrize("text", NOT_CRITICAL)
def test_harmless_phrases_do_not_trigger_critical_rules(text: str) -> None:
    assert [m for m in match_rules(text) if m.priority == Priority.CRITICAL] == []


def test_every_rule_has_a_unique_id_and_a_schema_intent() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert all(r.intent in INTENTS for r in RULES)
    langs = {r.id.split(".")[0] for r in RULES}
    assert langs == {"sv", "en"}


@pytest.mark.parametrize(("text", "rule_id"), SELF_HARM + THREATS)
def test_rule_raises_any_model_answer_to_critical(text: str, rule_id: str) -> None:
    # The model is sure the message is a greeting: the rule still makes it critical.
    d = decide(text, [("greet", 0.97), ("goodbye", 0.03)])
    assert d.intent in {"self_harm", "urgent_threat"}
    assert rule_id in d.matched_rules
    assert d.decided_by == "rule"


@pytest.mark.parametrize("intent", INTENTS)
def test_a_rule_never_lowers_the_intent(intent: str) -> None:
    # A travel rule matching a message the model already calls critical leaves it critical.
    matches = match_rules("min son har åkt till Syrien för att strida")
    assert [m.intent for m in matches] == ["travel_conflict"]
    after, _ = apply_rules(intent, matches)
    from nlu.result import INTENT_PRIORITY

    assert INTENT_PRIORITY[after] >= INTENT_PRIORITY[intent]
    if INTENT_PRIORITY[intent] == Priority.CRITICAL:
        assert after == intent


def test_critical_model_answer_is_kept_when_the_other_critical_rule_matches() -> None:
    d = decide("I'm going to kill myself", [("urgent_threat", 0.8), ("self_harm", 0.2)])
    assert d.intent == "urgent_threat"
    assert "en.self_harm.kill_myself" in d.matched_rules


async def test_results_name_the_matched_rules(triager: EmbeddedTriager) -> None:
    r = await triager.parse("hej! jag vill inte leva langre")
    assert r.priority == Priority.CRITICAL
    assert r.intent == "self_harm"
    assert "sv.self_harm.vill_inte_leva" in r.to_dict()["matched_rules"]
