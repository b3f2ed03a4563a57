"""The conversation state machine.

``bot`` (triaged, safe response sent) -> ``queued`` -> ``assigned`` -> ``closed`` -> ``documented``;
an assigned conversation can go back to the queue (released or transferred); a person who writes
again after ``closed`` starts a new conversation.  Critical conversations are never closed by
the bot alone.
"""

from __future__ import annotations

import enum
from typing import Protocol

from gateway.errors import Conflict


class ConversationState(enum.StrEnum):
    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    CLOSED = "closed"
    DOCUMENTED = "documented"


S = ConversationState

TRANSITIONS: dict[ConversationState, frozenset[ConversationState]] = {
    S.BOT: frozenset({S.QUEUED, S.CLOSED}),
    S.QUEUED: frozenset({S.ASSIGNED, S.CLOSED}),
    S.ASSIGNED: frozenset({S.QUEUED, S.ASSIGNED, S.CLOSED}),
    S.CLOSED: frozenset({S.DOCUMENTED}),
    S.DOCUMENTED: frozenset(),
}

# Intents that alone do not put a conversation in front of a counsellor.
BOT_ONLY_INTENTS = frozenset({"greet", "goodbye"})


class HasState(Protocol):
    state: str


def check_transition(current: str, target: ConversationState) -> None:
    """Raise :class:`Conflict` unless the table allows ``current`` -> ``target``."""
    state = ConversationState(current)
    if target not in TRANSITIONS[state]:
        raise Conflict(f"a conversation cannot go from {state.value} to {target.value}")


def move(conversation: HasState, target: ConversationState) -> None:
    """The one way a conversation's state changes: checked against :data:`TRANSITIONS`.

    (The claim, one conditional UPDATE in :mod:`gateway.queue`, is the only change made in SQL;
    its condition is the table's ``queued -> assigned``, checked below at import.)"""
    check_transition(conversation.state, target)
    conversation.state = target.value


def needs_counsellor(intent: str, priority: int) -> bool:
    """Whether a message puts a bot-only conversation in the queue."""
    return intent not in BOT_ONLY_INTENTS or priority >= 2


check_transition(S.QUEUED, S.ASSIGNED)  # the claim's UPDATE relies on it
