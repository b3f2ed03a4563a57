"""What the load generator counts, and the percentile it reports."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

now = time.perf_counter


def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (``values`` in any order); None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass
class Stats:
    measuring: bool = False
    stopping: bool = False
    round_trips: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, round trips in a held conversation
    first_answers: list[float] = field(default_factory=list)  # seconds, first message -> first reply
    requests: Counter[str] = field(default_factory=Counter)  # HTTP request key -> count, in the window
    frames_out: Counter[str] = field(default_factory=Counter)  # web chat frames sent, in the window
    console_frames: Counter[str] = field(default_factory=Counter)  # live feed frames received, in the window
    console_frames_out: Counter[str] = field(default_factory=Counter)  # frames consoles sent on it
    errors: Counter[str] = field(default_factory=Counter)
    first_errors: dict[str, str] = field(default_factory=dict)
    # Where a round trip's time goes: stage name -> seconds (held conversations, in the window).
    stages: dict[str, list[float]] = field(default_factory=dict)
    sent_at: dict[str, float] = field(default_factory=dict)  # conversation -> its person's last message
    replied_at: dict[str, float] = field(default_factory=dict)  # conversation -> the reply's POST
    # Critical alerts: conversation id -> console index -> when its live feed showed the alert.
    alerts_seen: dict[str, dict[int, float]] = field(default_factory=dict)

    def error(self, kind: str, detail: str = "") -> None:
        self.errors[kind] += 1
        self.first_errors.setdefault(kind, detail[:300])

    def request(self, key: str) -> None:
        if self.measuring:
            self.requests[key] += 1

    def stage(self, name: str, since: float | None) -> None:
        if self.measuring and since is not None:
            self.stages.setdefault(name, []).append(now() - since)

    def alert(self, conversation_id: str, console: int) -> None:
        self.alerts_seen.setdefault(conversation_id, {}).setdefault(console, now())
