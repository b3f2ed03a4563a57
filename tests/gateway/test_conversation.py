"""A conversation's state changes in one function (gateway.conversation.move) that enforces the
transition table: every pair of states is tried, and no other code assigns a conversation's state."""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.conversation import (
    TRANSITIONS,
    UNLINK_AT_CLOSE,
    UNLINKED_PREFIX,
    ConversationState,
    move,
    unlinked_pseudonym,
)
from gateway.errors import Conflict

S = ConversationState
ROOT = Path(__file__).resolve().parents[2]
LEGAL = {
    (S.BOT, S.QUEUED),
    (S.BOT, S.CLOSED),
    (S.QUEUED, S.ASSIGNED),
    (S.QUEUED, S.CLOSED),
    (S.ASSIGNED, S.QUEUED),
    (S.ASSIGNED, S.ASSIGNED),
    (S.ASSIGNED, S.CLOSED),
    (S.CLOSED, S.DOCUMENTED),
}


@dataclass
class Conv:
    state: str


def test_the_table_is_the_documented_life_of_a_conversation() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == LEGAL


@pytest.mark.parametrize(("current", "target"), sorted(itertools.product(S, S)))
def test_every_transition_is_checked(current: ConversationState, target: ConversationState) -> None:
    conv = Conv(current.value)
    if (current, target) in LEGAL:
        move(conv, target)
        assert conv.state == target.value
    else:
        with pytest.raises(Conflict, match=f"from {current.value} to {target.value}"):
            move(conv, target)
        assert conv.state == current.value, "an illegal move leaves the state as it was"


def _state_assignments(path: Path) -> list[int]:
    """Lines where ``<something>.state = ...`` is assigned or ``state=`` is passed to ``.values(...)``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if (
                    isinstance(t, ast.Attribute)
                    and t.attr == "state"
                    and not (isinstance(t.value, ast.Name) and t.value.id == "self")
                ):
                    lines.append(node.lineno)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "values"
            and any(k.arg == "state" for k in node.keywords)
        ):
            lines.append(node.lineno)
    return lines


def test_no_code_but_move_and_the_claim_assigns_a_conversation_state() -> None:
    allowed = {
        "gateway/conversation.py",  # move itself
        "gateway/queue.py",  # the claim: one conditional UPDATE (queued -> assigned)
        "handoff/triage_admin/corrections_admin.py",  # a correction's own state (pending/accepted/rejected)
        "handoff/training/service.py",  # a training session's own state (its own table, never a conversation)
        "handoff/training/desk.py",  # the same, closed from the console in training mode
    }
    found = []
    for package in ("gateway", "handoff"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in allowed or "/migrations/" in rel:
                continue
            found += [f"{rel}:{line}" for line in _state_assignments(path)]
    assert not found, f"a conversation's state is set outside gateway.conversation.move: {found}"


@dataclass
class _Held:
    state: str
    pseudonym: str
    meta: dict[str, object]
    resume_code_hash: str | None = "hash"


def test_a_conversation_flagged_unlink_at_close_loses_its_pseudonym_when_it_closes() -> None:
    flagged = _Held(ConversationState.ASSIGNED.value, "a" * 40, {UNLINK_AT_CLOSE: True, "closed_by": "anna"})
    move(flagged, ConversationState.QUEUED)  # only the close unlinks
    assert flagged.pseudonym == "a" * 40
    move(flagged, ConversationState.ASSIGNED)
    move(flagged, ConversationState.CLOSED)
    assert flagged.pseudonym.startswith(UNLINKED_PREFIX) and len(flagged.pseudonym) == 40
    assert flagged.resume_code_hash is None
    assert flagged.meta == {"closed_by": "anna", "unlinked": True}
    plain = _Held(ConversationState.ASSIGNED.value, "b" * 40, {})
    move(plain, ConversationState.CLOSED)
    assert plain.pseudonym == "b" * 40 and plain.resume_code_hash == "hash"
    assert unlinked_pseudonym() != unlinked_pseudonym()
