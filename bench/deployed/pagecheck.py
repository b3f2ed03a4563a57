"""Read the requests and frames the shipped pages make out of their JavaScript source.

Not a JavaScript parser: it finds the calls the pages use for the network (``api("GET", path)``,
``HL.apiAction("POST", path, body)``, ``send({type: ...})``, the websocket paths and the login
form) and turns each path expression into a template (``"/console/api/conversations/" + id`` ->
``/console/api/conversations/{}``), which is what the benchmark's clients are checked against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_STATIC = ROOT / "handoff" / "console" / "static"
CHAT_STATIC = ROOT / "bots" / "webchat" / "static"
LOGIN_TEMPLATE = ROOT / "handoff" / "console" / "templates" / "login.html"
CONSOLE_TEMPLATE = ROOT / "handoff" / "console" / "templates" / "console.html"
_SCRIPT_TAG = re.compile(r'<script src="/console/static/([\w.-]+\.js)"')
# The scripts of the console page, read from templates/console.html: a script added to the page
# is checked too.
# Scripts only the training space loads (it answers from its own tables) are not the real console's.
_TRAINING_ONLY = re.compile(r'\{%\s*if space == "training"\s*%\}.*?\{%\s*endif\s*%\}', re.S)
CONSOLE_PAGE_SCRIPTS = tuple(
    _SCRIPT_TAG.findall(_TRAINING_ONLY.sub("", CONSOLE_TEMPLATE.read_text(encoding="utf-8")))
)
# The API base the scripts read from the page (``HL.base``): the real console's, as served at /console.
PAGE_CONSTS = {"HL.base": '"/console/api"'}

# liveAction(socket, "POST", path, ...): the request it falls back to.
_CALL = re.compile(r"\b(?:api|apiAction|liveAction)\(\s*(?:[\w.]+\s*,\s*)?\"([A-Z]+)\"\s*,\s*")
_CONST = re.compile(
    r"\b(?:const|let|var)\s+(\w+)\s*=\s*((?:\"[^\"]*\"|HL\.base)(?:\s*\+\s*(?:[\w.]+|\"[^\"]*\"))*)\s*;"
)
_FRAME = re.compile(
    r"(?:send\(\s*(?:JSON\.stringify\(\s*)?|liveAction\([^;]*?return\s*)\{\s*type:\s*\"([\w-]+)\""
)
_WS_PATH = re.compile(r"\"(/[\w/-]*/ws)\"")
_FORM = re.compile(r"<form[^>]*method=\"post\"[^>]*action=\"([^\"]+)\"", re.IGNORECASE)


@dataclass(frozen=True)
class Found:
    key: str  # "GET /console/api/queue", "frame hello", "ws /chat/ws"
    where: str  # file:line

    def __str__(self) -> str:
        return f"{self.key}  ({self.where})"


def _argument(source: str, start: int) -> str:
    """The expression from ``start`` to the next comma or closing parenthesis at its own level."""
    depth, i, quote = 0, start, ""
    while i < len(source):
        c = source[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif c == "," and depth == 0:
            break
        i += 1
    return source[start:i].strip()


def _split_plus(expr: str) -> list[str]:
    parts, depth, quote, current = [], 0, "", ""
    for c in expr:
        if quote:
            current += c
            if c == quote:
                quote = ""
            continue
        if c in "\"'":
            quote = c
        elif c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        if c == "+" and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += c
    parts.append(current.strip())
    return parts


def template(expr: str, consts: dict[str, str]) -> str:
    """A path expression as a template: literals kept, anything computed is ``{}``, and the query
    string (``"...?" + q``) dropped."""
    out = ""
    for part in _split_plus(expr):
        if part in consts:
            out += template(consts[part], PAGE_CONSTS)
        elif len(part) >= 2 and part[0] == part[-1] and part[0] in "\"'":
            out += part[1:-1]
        else:
            out += "{}"
    return out.split("?", 1)[0]


def _line(source: str, pos: int) -> int:
    return source.count("\n", 0, pos) + 1


def requests_in(path: Path) -> list[Found]:
    source = path.read_text(encoding="utf-8")
    consts = {**PAGE_CONSTS, **{m.group(1): m.group(2) for m in _CONST.finditer(source)}}
    found = []
    for m in _CALL.finditer(source):
        expr = _argument(source, m.end())
        found.append(
            Found(f"{m.group(1)} {template(expr, consts)}", f"{path.name}:{_line(source, m.start())}")
        )
    return found


def frames_in(path: Path) -> list[Found]:
    source = path.read_text(encoding="utf-8")
    return [
        Found(f"frame {m.group(1)}", f"{path.name}:{_line(source, m.start())}")
        for m in _FRAME.finditer(source)
    ]


def sockets_in(path: Path) -> list[Found]:
    source = path.read_text(encoding="utf-8")
    if "new WebSocket(" not in source:
        return []
    return [
        Found(f"ws {m.group(1)}", f"{path.name}:{_line(source, m.start())}")
        for m in _WS_PATH.finditer(source)
    ]


def console_page() -> list[Found]:
    """Every request and socket of the console page: its scripts and the login form before it."""
    found: list[Found] = []
    for name in CONSOLE_PAGE_SCRIPTS:
        found += requests_in(CONSOLE_STATIC / name) + sockets_in(CONSOLE_STATIC / name)
    login = LOGIN_TEMPLATE.read_text(encoding="utf-8")
    found += [
        Found(f"POST {m.group(1)}", f"{LOGIN_TEMPLATE.name}:{_line(login, m.start())}")
        for m in _FORM.finditer(login)
    ]
    return found


def console_frames() -> list[Found]:
    """Every frame the console page's scripts send on its live socket."""
    found: list[Found] = []
    for name in CONSOLE_PAGE_SCRIPTS:
        found += frames_in(CONSOLE_STATIC / name)
    return found


def chat_page() -> list[Found]:
    path = CHAT_STATIC / "chat.js"
    return frames_in(path) + sockets_in(path)


def timer_in_source(file: str, pattern: str) -> float | None:
    """The milliseconds a timer pattern finds in a page script, in seconds (None: not found)."""
    folder = CHAT_STATIC if file == "chat.js" else CONSOLE_STATIC
    m = re.search(pattern, (folder / file).read_text(encoding="utf-8"))
    return int(m.group(1)) / 1000 if m else None
