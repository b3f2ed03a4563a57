"""The simulated person: what they answer, when, and which checklist steps a reply marks.

Pure functions of a :class:`~handoff.training.scenarios.Scenario`; the service stores the lines
with their due time (a person "types" before a line shows) and the node the script moved to.
"""

from __future__ import annotations

from dataclasses import dataclass

from .scenarios import Scenario, Step


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    delay: float
    """Seconds after the previous line (or the trainee's reply) that this one shows."""


def typing_delay(text: str) -> float:
    """How long a person takes to type ``text``: a moment to think, then some 5 characters a second."""
    return round(min(20.0, 1.5 + len(text) / 5.0), 1)


def _lines(say: list[str], delay: float | None) -> list[Line]:
    return [Line(text, delay if delay is not None else typing_delay(text)) for text in say]


def opening(scenario: Scenario) -> list[Line]:
    """The person's first message(s): the first at once (it starts the conversation)."""
    lines = _lines(scenario.opening, None)
    return [Line(lines[0].text, 0.0), *lines[1:]]


def respond(scenario: Scenario, node_id: str, text: str, intent: str | None) -> tuple[list[Line], str]:
    """What the person answers the trainee's ``text`` (of triaged ``intent``) at ``node_id``, and
    the node the script moves to.  A final node, or one without a matching rule or ``otherwise``,
    answers nothing."""
    node = scenario.nodes.get(node_id)
    if node is None or node.final:
        return [], node_id
    for rule in node.replies:
        if rule.matches(text, intent):
            return _lines(rule.say, rule.delay), rule.goto or node_id
    if node.otherwise is not None:
        return _lines(node.otherwise.say, node.otherwise.delay), node.otherwise.goto or node_id
    return [], node_id


def followup(scenario: Scenario, node_id: str, silent_for: float, sent: int) -> list[Line]:
    """The person's follow-up when the trainee has been silent ``silent_for`` seconds at a node
    where ``sent`` follow-ups went already; nothing when not yet (or no more)."""
    node = scenario.nodes.get(node_id)
    if node is None or node.final or node.silence is None:
        return []
    silence = node.silence
    if sent >= silence.times or silent_for < silence.after * (sent + 1):
        return []
    return [Line(silence.say[min(sent, len(silence.say) - 1)], 0.0)]


def steps_by_words(scenario: Scenario, text: str, intent: str | None) -> list[Step]:
    """The checklist steps the trainee's reply does (by its words or its triaged intent)."""
    return [s for s in scenario.checklist if s.action is None and s.matches(text, intent)]


def steps_by_action(scenario: Scenario, action: str) -> list[Step]:
    return [s for s in scenario.checklist if s.action == action]
