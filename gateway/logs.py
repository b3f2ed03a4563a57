"""The process's log: ``plain`` lines for people (the default, for development) or ``json``, one
event per line for a log collector (``logging.format``).

A JSON line holds ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, the record's extra
fields (``log.info("...", extra={"channel": "email"})``) and ``exception`` for a traceback.  It is
written with ``ensure_ascii=False`` so that a text in a log would read as itself: the privacy checks
that search the logs for message texts (tests/faults, tests/fleet) then find it in either format.
What the gateway logs carries no address, no message text and no client IP in any format;
aiohttp's access log (which would carry the client's address) is off (``SERVER_OPTIONS``).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from gateway import logthrottle

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_RECORD_KEYS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_KEYS and not key.startswith("_") and key not in event:
                event[key] = value
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            event["stack"] = self.formatStack(record.stack_info)
        return json.dumps(event, ensure_ascii=False, default=str)


_HANDLER_MARK = "_helpline_handler"


def configure(fmt: str = "plain", level: str = "INFO") -> logging.Handler:
    """(Re)configure the root logger: one handler on stderr in ``fmt``, throttled."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(PLAIN_FORMAT))
    root.addHandler(handler)
    root.setLevel(level.upper() if level.upper() in logging.getLevelNamesMapping() else "INFO")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Python's warnings (a library's deprecations) as log records, so that json stays one event a line.
    logging.captureWarnings(True)
    # aiohttp's access log stays silent even if a runner is made with one (it names the client).
    logging.getLogger("aiohttp.access").setLevel(logging.CRITICAL)
    # A storm of one kind of line (out of file descriptors) stays a few lines.  On this handler
    # only: a filter on every root handler would also thin out other handlers' records (a test
    # runner's log capture, which then missed lines later tests looked for).
    handler.addFilter(logthrottle.Throttle())
    return handler
