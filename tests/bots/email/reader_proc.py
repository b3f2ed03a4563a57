"""A gateway's IMAP reader in a process of its own, for the crash tests (SIGKILLed by the test).

Usage: python tests/bots/email/reader_proc.py '{"db": ..., "hang": "before"|"after", "marker": ..., "key": hex, "email": {...}}'
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))  # the checkout, for ``bots`` and ``tests.bots.email``

from bots.email import EmailAdapter  # noqa: E402
from tests.bots.email.mailstore_ingress import SqliteIngress  # noqa: E402


async def main(cfg: dict[str, object]) -> None:
    ingress = SqliteIngress(Path(str(cfg["db"])), hang=str(cfg["hang"]), marker=Path(str(cfg["marker"])))
    adapter = EmailAdapter(dict(cfg["email"]), pseudonym_key=bytes.fromhex(str(cfg["key"])))  # type: ignore[call-overload]
    await adapter.start(ingress)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
