"""The conversation state machine.

``bot`` (triaged, safe response sent) -> ``queued`` -> ``assigned`` -> ``closed`` -> ``documented``;
an assigned conversation can go back to the queue (released or transferred); a person who writes
again after ``closed`` starts a new conversation.  Critical conversations are never closed by
the bot alone.
"""

from __future__ import annotations

import enum

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


def check_transition(current: str, target: ConversationState) -> None:
    state = ConversationState(current)
    if target not in TRANSITIONS[state]:
        raise Conflict(f"a conversation cannot go from {state.value} to {target.value}")


def needs_counsellor(intent: str, priority: int) -> bool:
    """Whether a message puts a bot-only conversation in the queue."""
    return intent not in BOT_ONLY_INTENTS or priority >= 2
