"""Bodies and answers of the training routes (for the web kit and the OpenAPI document)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from pydantic import Field

from handoff.web import Answer, Body

TEXT = r"\S"


class TrainingStartBody(Body):
    """The scenario to practise."""

    scenario_id: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    error_codes: ClassVar[Mapping[str, str]] = MappingProxyType({"scenario_id": "unknown_scenario"})


class TrainingTextBody(Body):
    """A reply, a hint or feedback."""

    text: str = Field(min_length=1, max_length=4000, pattern=TEXT)
    error_codes: ClassVar[Mapping[str, str]] = MappingProxyType({"text": "text_required"})


class TrainingDecisionBody(Body):
    """The supervisor's second pair of eyes on the trainee's crime information."""

    approve: bool


class TrainingScenarioSourceBody(Body):
    """A scenario's YAML as an admin edited it."""

    source: str = Field(min_length=1, max_length=100_000)


class TrainingRequiredBody(Body):
    required: bool


class TrainingScenarioEntry(Answer):
    id: str
    title: str
    summary: str
    language: str
    channel: str
    required: bool
    edited: bool


class TrainingScenariosAnswer(Answer):
    """The scenarios a trainee may practise."""

    scenarios: list[TrainingScenarioEntry]
    problems: dict[str, list[str]]


class TrainingStartAnswer(Answer):
    id: str
    state: str


class TrainingQueueAnswer(Answer):
    """The trainee's own training queue and the sessions they hold (never a real conversation)."""

    sessions: list[dict[str, Any]]


class TrainingSessionAnswer(Answer):
    """A training session: the person's lines that are due, the trainee's, hints, the checklist."""

    id: str
    scenario_id: str
    title: str
    channel: str
    language: str
    state: str
    intent: str | None
    priority: str
    typing: bool
    messages: list[dict[str, Any]]
    checklist: list[dict[str, Any]]
    actions: dict[str, Any]
    feedback: str | None


class TrainingOverviewAnswer(Answer):
    """For supervisors: training sessions going on and those closed in the last day."""

    sessions: list[dict[str, Any]]


class TrainingProgressAnswer(Answer):
    """A trainee's scenarios done (checklist results, feedback) and the required ones still to do."""

    user: str
    done: list[dict[str, Any]]
    missing_required: list[str]


class TrainingSourceAnswer(Answer):
    id: str
    source: str
    edited: bool
    required: bool
