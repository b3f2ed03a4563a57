"""The shipped scenarios (issue 21: at least eight in Swedish covering every intent and intent family
and both critical intents, two in English), their checking, and the simulated person's script."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from handoff.training import script
from handoff.training.scenarios import ScenarioError, parse, shipped
from nlu.result import CRITICAL_INTENTS, INTENTS

FAMILIES = Path(__file__).parents[3] / "nlu" / "data" / "families.yml"
HOT = "hot_threat_friday"


def _families() -> set[str]:
    data = yaml.safe_load(FAMILIES.read_text(encoding="utf-8"))
    return {entry["metadata"]["family"] for entry in data["nlu"]}


def test_the_shipped_scenarios_cover_every_intent_and_family_in_swedish_and_two_are_english() -> None:
    scenarios = [parse(text) for text in shipped().values()]
    assert [s.id for s in scenarios] == list(shipped())  # each file is named after its scenario
    swedish = [s for s in scenarios if s.language == "sv"]
    assert len(swedish) >= 8 and len([s for s in scenarios if s.language == "en"]) >= 2
    assert {i for s in swedish for i in s.covers.intents} == set(INTENTS)
    assert {f for s in swedish for f in s.covers.families} == _families()
    assert CRITICAL_INTENTS <= {s.covers.intents[0] for s in swedish}


@pytest.mark.parametrize("scenario_id", sorted(shipped()))
def test_every_node_of_a_scenario_is_reachable_and_the_checklist_can_be_done(scenario_id: str) -> None:
    scenario = parse(shipped()[scenario_id])
    seen, todo = set(), [scenario.start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        node = scenario.nodes[name]
        todo += [r.goto for r in node.replies if r.goto]
        todo += [node.otherwise.goto] if node.otherwise and node.otherwise.goto else []
    assert seen == set(scenario.nodes)
    assert any(step.action == "documented" for step in scenario.checklist)


async def test_each_opening_is_triaged_by_the_real_model_as_the_scenario_says() -> None:
    from nlu.triage import build_triager

    triager = build_triager(backend="embedded", rasa_url=None, model_path=None, timeout=5)
    for text in shipped().values():
        scenario = parse(text)
        results = [await triager.parse(line, scenario.language) for line in scenario.opening]
        top = max(results, key=lambda r: r.priority)
        assert top.intent == scenario.covers.intents[0], (scenario.id, [r.intent for r in results])


def test_the_person_answers_by_the_trainees_words_or_triaged_intent_and_moves_on() -> None:
    scenario = parse(shipped()[HOT])
    lines, node = script.respond(scenario, "start", "Är du SÄKER där du är?", "concern_relative")
    assert [line.text for line in lines] == [
        "jag är hemma. de vet inte att jag skriver här",
        "men fredag är om två dagar",
    ]
    assert node == "details" and all(line.delay > 1 for line in lines)
    lines, node = script.respond(scenario, "start", "Okej.", None)
    assert [line.text for line in lines] == ["hallå? förstår du vad jag säger? det är på riktigt"]
    assert node == "start"
    assert script.respond(scenario, "gone", "Hej?", None) == ([], "gone")  # a final node is silent
    by_intent = scenario.model_copy(
        update={
            "nodes": {
                **scenario.nodes,
                "start": scenario.nodes["start"].model_copy(
                    update={
                        "replies": [
                            scenario.nodes["start"]
                            .replies[0]
                            .model_copy(update={"keywords": [], "intents": ["greet"]})
                        ]
                    }
                ),
            }
        }
    )
    lines, node = script.respond(by_intent, "start", "Tjena", "greet")
    assert node == "afraid"


def test_a_silent_trainee_gets_the_scripts_follow_ups_in_time_and_no_more() -> None:
    scenario = parse(shipped()[HOT])  # start: after 45 s, twice
    assert script.followup(scenario, "start", 44, 0) == []
    assert [line.text for line in script.followup(scenario, "start", 45, 0)] == ["är du kvar?"]
    assert script.followup(scenario, "start", 60, 1) == []
    assert [line.text for line in script.followup(scenario, "start", 90, 1)] == [
        "jag kanske inte skulle ha skrivit"
    ]
    assert script.followup(scenario, "start", 999, 2) == []


def test_checklist_steps_are_marked_by_words_and_by_actions() -> None:
    scenario = parse(shipped()[HOT])
    marked = script.steps_by_words(scenario, "Ring 112 om någon är i fara. Är du trygg?", None)
    assert [s.id for s in marked] == ["give_112", "ask_safety"]
    assert [s.id for s in script.steps_by_action(scenario, "disclosure_approved")] == ["four_eyes"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("title: {sv: [", "not valid YAML (line"),
        (
            "nodes: {start: {replies: [{keywords: [x], say: [y], goto: nowhere}]}}",
            "goto 'nowhere' is not a node",
        ),
        ("nodes: {start: {replies: [{intents: [bomb], say: [y]}]}}", "unknown intents: bomb"),
        ("language: fi", "language"),
    ],
)
def test_an_invalid_scenario_is_refused_saying_what_is_wrong(change: str, problem: str) -> None:
    source = shipped()[HOT]
    key = change.split(":")[0]
    data = yaml.safe_load(source)
    data.pop(key)
    edited = yaml.safe_dump(data, allow_unicode=True) + change + "\n"
    with pytest.raises(ScenarioError) as caught:
        parse(edited)
    assert problem in str(caught.value), caught.value.problems
