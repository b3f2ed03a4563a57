"""The triage admin's input schemas (the JSON bodies its POST routes read) and its answers, for the
route table (:data:`handoff.triage_admin.web.ROUTES`) and the OpenAPI document.

The schemas check the types; the handlers check the values and answer a refusal in the one error
shape: ``{"error": code}``, with ``fields`` (field -> the admin's words) when it refuses a field of
the input (an unknown intent or language, an empty or too long text); the page has the words of
every code (a text of the held-out test split, a busy dataset).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from handoff.web import Answer, Body, Download, ErrorAnswer

_EXAMPLE_CODES: Mapping[str, str] = MappingProxyType(
    {"intent": "unknown_intent", "text": "empty", "new_intent": "unknown_intent", "new_text": "empty"}
)


# ---------------------------------------------------------------------- input
class ExampleBody(Body):
    """A training example: its intent and text."""

    intent: str
    text: str
    error_codes: ClassVar[Mapping[str, str]] = _EXAMPLE_CODES


class EditExampleBody(ExampleBody):
    """A training example and what it becomes (its new intent and/or text)."""

    new_intent: str | None = None
    new_text: str | None = None


class ResponseKeyBody(Body):
    """The safe response of an intent in a language."""

    intent: str
    language: str
    error_codes: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"intent": "unknown_intent", "language": "unknown_language", "text": "empty"}
    )


class SetResponseBody(ResponseKeyBody):
    """The new text of a safe response (checked: critical responses name 112, self-harm also 90101)."""

    text: str


class ParseBody(Body):
    """A sentence to try with the running triage, and optionally its language."""

    text: str
    language: str | None = None
    error_codes: ClassVar[Mapping[str, str]] = MappingProxyType({"text": "empty"})


class AcceptCorrectionBody(Body):
    """The intent to train the corrected text with (needed when the counsellor gave none)."""

    intent: str | None = None
    error_codes: ClassVar[Mapping[str, str]] = MappingProxyType({"intent": "unknown_intent"})


# ---------------------------------------------------------------------- answers
class IntentsAnswer(Answer):
    """The intents with their number of training and test examples, and the dataset revision."""

    revision: dict[str, Any]
    n_examples: int
    intents: list[dict[str, Any]]


class ExamplesAnswer(Answer):
    """The training examples of an intent (``?q=`` filters)."""

    intent: str
    revision: int
    examples: list[str]


class ExampleAnswer(Answer):
    """The example as stored, in a new dataset revision."""

    ok: bool
    revision: int
    intent: str
    text: str


class RevisionAnswer(Answer):
    """The example is removed, in a new dataset revision."""

    ok: bool
    revision: int


class ResponsesAnswer(Answer):
    """Every intent's safe responses in every language, the shipped ones and which are overridden."""

    languages: list[str]
    responses: list[dict[str, Any]]


class ResponseAnswer(Answer):
    """The safe response as it now is."""

    ok: bool
    intent: str
    language: str
    text: str | None


class ParseAnswer(Answer):
    """The triage of the sentence (nothing is stored)."""

    text: str
    intent: dict[str, Any]
    intent_ranking: list[dict[str, Any]]
    language: str
    priority: str
    safe_response: str
    model_version: str
    backend: str
    decided_by: Any


class ModelsAnswer(Answer):
    """The model versions, the active one, the running one and the latest training job."""

    active: str | None
    history: list[str]
    running: dict[str, Any]
    versions: list[dict[str, Any]]
    job: dict[str, Any] | None


class TrainingStartedAnswer(Answer):
    """The training job started; poll ``url``."""

    job: str
    url: str


class JobAnswer(Answer):
    """A training job: its stage, and when done the candidate, the active model and the gate."""

    id: str
    status: str
    stage: str
    started_at: str
    finished_at: str | None
    by: str | None
    dataset_revision: int | None
    error: str | None


class ActivationAnswer(Answer):
    """The active model version now, and the one before."""

    ok: bool
    version: str | None
    previous: str | None
    reason: str | None


class TrainingDataDownload(Download):
    """The training data as Rasa NLU YAML (``nlu-r<revision>.yml``)."""

    media_type: ClassVar[str] = "application/x-yaml"


class ActivationRefusedAnswer(ErrorAnswer):
    """The gate refused the candidate (``refused``, the one error shape) and the facts the page shows
    beside its words: the gate's reason, the version refused and the one still active."""

    reason: str | None
    version: str | None
    active: str | None


class CorrectionsAnswer(Answer):
    """The corrections in a state (``?state=``, default ``proposed``) and the count of each state."""

    state: str
    counts: dict[str, int]
    corrections: list[dict[str, Any]]


class CorrectionsEvaluationAnswer(Answer):
    """How many accepted and proposed corrections the active model still gets wrong."""

    model_version: str
    accepted: dict[str, int]
    proposed: dict[str, int]
    wrong: list[dict[str, Any]]


class DecisionAnswer(Answer):
    """The correction is decided (accepted: the dataset revision its text went into)."""

    ok: bool
    id: int
    intent: str | None = None
    revision: int | None = None


__all__ = [
    "AcceptCorrectionBody",
    "ActivationAnswer",
    "ActivationRefusedAnswer",
    "CorrectionsAnswer",
    "CorrectionsEvaluationAnswer",
    "DecisionAnswer",
    "EditExampleBody",
    "ExampleAnswer",
    "ExampleBody",
    "ExamplesAnswer",
    "IntentsAnswer",
    "JobAnswer",
    "ModelsAnswer",
    "ParseAnswer",
    "ParseBody",
    "ResponseAnswer",
    "ResponseKeyBody",
    "ResponsesAnswer",
    "RevisionAnswer",
    "SetResponseBody",
    "TrainingDataDownload",
    "TrainingStartedAnswer",
]
