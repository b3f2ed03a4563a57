"""The risk stage: danger told without the obvious words is raised, and says why.

The messages here are written for these tests (not taken from any data split): each names one
concept of a family of misses in a new way.
"""

from __future__ import annotations

import pytest

from gateway.envelope import Priority
from nlu.result import CRITICAL_INTENTS
from nlu.risk import OTHERS, SELF, THREATENED, assess
from nlu.text import fold
from nlu.triage import EmbeddedTriager


def _risk(text: str, language: str = "sv"):  # type: ignore[no-untyped-def]
    return assess(fold(text), text, language)


@pytest.mark.parametrize(
    "text",
    [
        "jag har svalt alla sömntabletterna som fanns i badrumsskåpet",
        "Pills are lined up on the desk, I counted them twice",
        "motorn går och garageporten är stängd, jag sitter kvar i bilen",
        "brevet till mamma ligger på hallbordet, förlåt för allt",
        "won't be around after the weekend, it's all sorted",
        "ingen kommer att sakna en gammal nazist som jag",
        "jag har gett bort min katt och skrivit till mina föräldrar",
        "I'm on the railway bridge now, this is the last message",
    ],
)
def test_self_harm_through_means_and_farewells_is_critical(text: str) -> None:
    r = _risk(text)
    assert r is not None and r.type == SELF and r.priority == Priority.CRITICAL, (text, r)


@pytest.mark.parametrize(
    "text",
    [
        "han har skaffat konstgödsel och stålrör och frågar om tändhattar",
        "he bought batteries, wiring and an egg timer and talks about the parade on saturday",
        "de har lagt ut journalistens hemadress och skriver att hon ska få besök",
        "they posted the councillor's home address and said it is time for a visit",
        "min bror har hyrt en lastbil till nationaldagen och vet var folkmassan står",
        "de har spanat på moskén i en vecka och vet när vakterna byter",
        "han har köpt skyddsväst och ska livestreama från köpcentret",
        "jag vill lämna gruppen men de ska bränna ner asylboendet i natt",
    ],
)
def test_attack_preparation_without_the_word_attack_is_critical(text: str) -> None:
    r = _risk(text)
    assert r is not None and r.type == OTHERS and r.priority == Priority.CRITICAL, (text, r)


@pytest.mark.parametrize(
    "text",
    [
        "köpte batterier och spik till ficklampan i stugan",
        "jag tar mina blodtrycksmediciner varje morgon",
        "vi läste om Breivik på historielektionen idag",
        "vi ska fira pride på lördag i parken",
        "I bought fertiliser for the roses this weekend",
        "the newspaper wrote about the attack on the mosque in 2019",
    ],
)
def test_harmless_messages_raise_nothing(text: str) -> None:
    r = _risk(text)
    assert r is None or r.priority < Priority.CRITICAL, (text, r)


def test_reason_names_means_and_state() -> None:
    r = _risk("jag har tagit alla tabletterna nu")
    assert r is not None
    assert "means: pills" in r.reason
    assert "taken" in r.reason


def test_threat_received_is_danger_from_others_not_self_harm(triager: EmbeddedTriager) -> None:
    text = "de skrev till mig igår kväll att jag är en förrädare och att de vet var jag bor"
    r = triager.parse_sync(text)
    assert r.risk is not None and r.risk["type"] == THREATENED
    assert r.intent != "self_harm"
    assert r.priority >= Priority.HIGH
    assert "114 14" in r.safe_response and "112" in r.safe_response
    assert "90101" not in r.safe_response


def test_explicit_death_threat_to_the_writer_is_critical(triager: EmbeddedTriager) -> None:
    r = triager.parse_sync("two of them are outside my flat right now with bats, they say I'm a dead man")
    assert r.priority == Priority.CRITICAL
    assert r.intent != "self_harm"
    assert "90101" not in r.safe_response


def test_third_party_report_of_a_suicide_plan_is_critical(triager: EmbeddedTriager) -> None:
    r = triager.parse_sync(
        "Jag är kurator. En elev visade mig ett rep i sin ryggsäck och sa att han har skrivit ett avskedsbrev."
    )
    assert r.intent == "self_harm" and r.priority == Priority.CRITICAL


def test_leaving_the_movement_with_a_farewell_is_self_harm(triager: EmbeddedTriager) -> None:
    r = triager.parse_sync(
        "jag har lämnat rörelsen men ingen kommer sakna en före detta nazist, brevet är skrivet"
    )
    assert r.intent == "self_harm" and r.priority == Priority.CRITICAL
    assert "90101" in r.safe_response


def test_mixed_message_precedence_wins(triager: EmbeddedTriager) -> None:
    r = triager.parse_sync("Jag vill hoppa av, men gruppen ska sätta eld på kvinnojouren i natt.")
    assert r.intent == "urgent_threat" and r.priority == Priority.CRITICAL


@pytest.mark.parametrize(
    "text",
    [
        "hej, jag undrar vilka tider ni har öppet",
        "min son har börjat lyssna på konstig musik",
        "jag har tagit alla tabletterna",
        "de vet var jag bor och kallar mig förrädare",
        "köpte gödsel och rör till trädgården",
    ],
)
def test_the_risk_stage_never_lowers_the_decision(triager: EmbeddedTriager, text: str) -> None:
    from nlu.result import INTENT_PRIORITY
    from nlu.triage import decide

    folded = fold(text)
    before = INTENT_PRIORITY[
        decide(text, triager.model.classifier.predict_folded(folded), folded=folded).intent
    ]
    r = triager.parse_sync(text)
    if r.risk is not None and r.risk["type"] == THREATENED and before == Priority.CRITICAL:
        # The one re-reading: a threatened person is not a self-harm case, and stays at least high.
        assert r.priority >= Priority.HIGH and r.intent != "self_harm"
    else:
        assert r.priority >= before
    assert r.intent in CRITICAL_INTENTS or r.priority <= Priority.HIGH or r.risk is not None
