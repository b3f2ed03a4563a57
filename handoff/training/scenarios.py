"""The scenario format, validated, and where scenarios come from.

A scenario (YAML) describes a simulated person: ``opening`` (their first message), ``channel``,
``language``, ``persona`` (for the supervisor), what it ``covers`` (intents, the first the one its
opening is triaged as, and intent families of ``nlu/data/families.yml``), and a branching script of
``nodes``: at each node the rules ``replies``
(the first whose ``keywords`` occur in the trainee's reply, or whose ``intents`` contain the real
triage's intent of it) say what the person answers (``say``, each line after its typing ``delay``)
and where the script goes (``goto``); ``otherwise`` when no rule matched; ``silence`` a follow-up
when the trainee has said nothing for ``after`` seconds.  ``checklist``: what a good counsellor
does, each step marked by the trainee's words (``keywords``/``intents``) or by an ``action``.

The shipped scenarios are ``scenarios/*.yml``; an admin's edit (table ``training_scenarios``)
replaces the shipped one of the same id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nlu.result import INTENTS

from .models import TrainingScenario

SHIPPED = Path(__file__).parent / "scenarios"
ID_PATTERN = r"^[a-z0-9_]{1,64}$"
ACTIONS = ("claimed", "referral", "referral_with_consent", "disclosure", "disclosure_approved", "documented")
"""What a checklist step may be marked by besides words: the trainee's actions in the console."""


class Words(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sv: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Matcher(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keywords: list[str] = []
    intents: list[str] = []

    @field_validator("intents")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [i for i in value if i not in INTENTS]
        if unknown:
            raise ValueError(f"unknown intents: {', '.join(unknown)}")
        return value

    def matches(self, text: str, intent: str | None) -> bool:
        low = text.casefold()
        return any(k.casefold() in low for k in self.keywords) or (
            intent is not None and intent in self.intents
        )


class Rule(Matcher):
    say: list[str] = Field(min_length=1)
    delay: float | None = Field(default=None, ge=0, le=120)
    goto: str | None = None


class Otherwise(BaseModel):
    model_config = ConfigDict(extra="forbid")
    say: list[str] = Field(min_length=1)
    delay: float | None = Field(default=None, ge=0, le=120)
    goto: str | None = None


class Silence(BaseModel):
    model_config = ConfigDict(extra="forbid")
    after: float = Field(gt=0, le=3600)
    say: list[str] = Field(min_length=1)
    times: int = Field(default=1, ge=1, le=5)


class Node(BaseModel):
    model_config = ConfigDict(extra="forbid")
    replies: list[Rule] = []
    otherwise: Otherwise | None = None
    silence: Silence | None = None
    final: bool = False


class Step(Matcher):
    id: str = Field(pattern=ID_PATTERN)
    text: Words
    action: (
        Literal[
            "claimed", "referral", "referral_with_consent", "disclosure", "disclosure_approved", "documented"
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _marked_somehow(self) -> Step:
        if not (self.keywords or self.intents or self.action):
            raise ValueError(f"step {self.id}: give keywords, intents or an action")
        return self


class Covers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    intents: list[str] = Field(min_length=1)
    families: list[str] = []


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN)
    title: Words
    summary: Words
    language: Literal["sv", "en"]
    channel: Literal["webchat", "email", "telegram", "xmpp", "sms", "phone"] = "webchat"
    persona: str = Field(min_length=1)
    covers: Covers
    opening: list[str] = Field(min_length=1)
    start: str = "start"
    nodes: dict[str, Node] = Field(min_length=1)
    checklist: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _links(self) -> Scenario:
        if self.start not in self.nodes:
            raise ValueError(f"start node {self.start!r} is not among the nodes")
        for name, node in self.nodes.items():
            targets = [r.goto for r in node.replies] + [node.otherwise.goto if node.otherwise else None]
            for goto in targets:
                if goto is not None and goto not in self.nodes:
                    raise ValueError(f"node {name}: goto {goto!r} is not a node")
        ids = [s.id for s in self.checklist]
        if len(set(ids)) != len(ids):
            raise ValueError("checklist step ids must differ")
        return self

    def title_in(self, lang: str) -> str:
        return self.title.en if lang == "en" else self.title.sv


class ScenarioError(ValueError):
    """A scenario that is not valid YAML or not a valid scenario: ``problems`` say where and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse(source: str) -> Scenario:
    """The scenario ``source`` describes, or :class:`ScenarioError`."""
    try:
        data: Any = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ScenarioError([f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}"]) from None
    if not isinstance(data, dict):
        raise ScenarioError(["a scenario is a mapping (id, title, opening, nodes, checklist ...)"])
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'scenario'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise ScenarioError(problems) from None


def shipped() -> dict[str, str]:
    """The shipped scenarios' sources by id (the file's name is the id)."""
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(SHIPPED.glob("*.yml"))}


async def sources(session: AsyncSession) -> dict[str, tuple[str, bool]]:
    """Every scenario's source by id, and whether an admin edited it."""
    found = {sid: (text, False) for sid, text in shipped().items()}
    for row in (await session.execute(select(TrainingScenario))).scalars():
        found[row.id] = (row.source, True)
    return dict(sorted(found.items()))


async def load(session: AsyncSession, scenario_id: str) -> Scenario | None:
    """The scenario of that id (an admin's edit first), or None."""
    row = await session.get(TrainingScenario, scenario_id)
    if row is not None:
        return parse(row.source)
    text = shipped().get(scenario_id)
    return parse(text) if text is not None else None


async def all_scenarios(session: AsyncSession) -> list[Scenario]:
    return [parse(text) for text, _ in (await sources(session)).values()]
