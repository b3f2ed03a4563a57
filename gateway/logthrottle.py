"""Repeated log lines are rate-limited: a storm (out of file descriptors, a broken peer) must not
write hundreds of thousands of lines, and still be seen, with a count of what was left out."""

from __future__ import annotations

import logging
import re
import time

_VARYING = re.compile(r"0x[0-9a-fA-F]+|\d+")


class Throttle(logging.Filter):
    """At most ``burst`` records of one kind (logger, level, message without its numbers) per
    ``window`` seconds; the first record of a new window says how many were left out."""

    def __init__(self, window: float = 10.0, burst: int = 5, max_kinds: int = 1000) -> None:
        super().__init__()
        self.window = window
        self.burst = burst
        self.max_kinds = max_kinds
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # kind -> [start, passed, left out]

    def filter(self, record: logging.LogRecord) -> bool:
        template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
        kind = (record.name, record.levelno, _VARYING.sub("#", template)[:60])
        now = time.monotonic()
        state = self._seen.get(kind)
        if state is None or now - state[0] >= self.window:
            left_out = int(state[2]) if state is not None else 0
            if len(self._seen) >= self.max_kinds:
                self._seen.clear()
            self._seen[kind] = [now, 1, 0]
            if left_out:
                record.msg = f"{template} [{left_out} more like this left out of the log]"
            return True
        if state[1] < self.burst:
            state[1] += 1
            return True
        state[2] += 1
        return False


def install(logger: logging.Logger | None = None) -> Throttle:
    """Throttle every handler of ``logger`` (the root logger by default)."""
    throttle = Throttle()
    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(throttle)
    return throttle
