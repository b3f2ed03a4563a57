"""Loaded by Python at start when this folder is on ``PYTHONPATH`` (see ``bench/sqlcount``)."""

from __future__ import annotations

import atexit
import collections
import os
import re
import threading
import time
import traceback
from typing import Any

PREFIX = os.environ.get("SQLCOUNT", "")
OURS = ("/gateway/", "/handoff/", "/bots/", "/nlu/")


def _callers() -> str:
    """The gateway's own frames that led here, innermost first, across SQLAlchemy's greenlet."""
    import greenlet

    stack = traceback.extract_stack(limit=80)
    here = greenlet.getcurrent()
    if here.parent is not None and here.parent.gr_frame is not None:
        stack = traceback.extract_stack(here.parent.gr_frame, limit=80) + stack
    ours = [f for f in stack if any(p in f.filename for p in OURS) and "site-packages" not in f.filename]
    return " < ".join(
        f"{f.filename.rsplit('/', 2)[-2]}/{f.filename.rsplit('/', 1)[-1]}:{f.name}"
        for f in reversed(ours[-4:])
    )


def _install() -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements: collections.Counter[tuple[str, str]] = collections.Counter()
    transactions: collections.Counter[str] = collections.Counter()

    @event.listens_for(Engine, "before_cursor_execute")
    def _statement(conn: Any, cursor: Any, statement: str, *_rest: Any) -> None:
        statements[(re.sub(r"\s+", " ", statement)[:90], _callers())] += 1

    @event.listens_for(Engine, "begin")
    def _begin(conn: Any) -> None:
        transactions[_callers()] += 1

    def dump() -> None:
        with open(f"{PREFIX}.{os.getpid()}.txt", "w") as out:
            out.write(f"transactions {sum(transactions.values())} statements {sum(statements.values())}\n")
            for (text, where), n in statements.most_common():
                out.write(f"S\t{n}\t{text}\t{where}\n")
            for where, n in transactions.most_common():
                out.write(f"T\t{n}\t{where}\n")

    def every_five_seconds() -> None:
        while True:
            time.sleep(5)
            dump()

    atexit.register(dump)
    threading.Thread(target=every_five_seconds, daemon=True).start()


if PREFIX:
    _install()
