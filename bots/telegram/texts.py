"""The Telegram commands a person can send (their words; what the adapter answers is in the
``person`` catalogue, ids ``telegram.*``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

COMMANDS: Final[Mapping[str, str]] = {
    "start": "start",
    "stopp": "stop",
    "stop": "stop",
    "avsluta": "stop",
    "hjalp": "help",
    "hjälp": "help",
    "help": "help",
}
