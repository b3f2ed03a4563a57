"""The deployed benchmark's clients make the requests the shipped pages make, and no others.

``bench/deployed`` claims to load the gateway as the console page and the web chat page do.  The
pages change (new buttons, new panels, new timers); these tests read the page scripts and fail,
naming the request, the frame or the timer and where it is in the JavaScript, when the benchmark
no longer matches them.  To fix a failure: make the client in ``bench/deployed/console.py`` or
``visitor.py`` do what the page now does and list the request in ``bench/deployed/protocol.py``
(``EXERCISED``), or, for a rare user action, in ``NOT_EXERCISED`` with a word on why.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.deployed import pagecheck
from bench.deployed import protocol as P

CLIENTS = Path(P.__file__).parent
CONSTANT_NAMES = {getattr(P, n).key: n for n in dir(P) if isinstance(getattr(P, n), P.Request)}


def _keys(found: list[pagecheck.Found], prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in found:
        if f.key.startswith(prefix):
            out.setdefault(f.key, []).append(f.where)
    return out


def _client_source() -> str:
    return (CLIENTS / "console.py").read_text() + (CLIENTS / "visitor.py").read_text()


def test_the_console_page_makes_exactly_the_requests_the_benchmark_knows() -> None:
    page = _keys(pagecheck.console_page())
    page_requests = {k: v for k, v in page.items() if not k.startswith("ws ")}
    exercised = {r.key for r in P.EXERCISED}
    problems = []
    for key, where in sorted(page_requests.items()):
        if key not in exercised and key not in P.NOT_EXERCISED:
            problems.append(
                f"the page makes {key} ({', '.join(where)}) and the benchmark does not: make "
                "bench/deployed/console.py do it as the page does and add it to protocol.EXERCISED, "
                "or add it to protocol.NOT_EXERCISED"
            )
    for key in sorted(exercised - set(page_requests)):
        problems.append(
            f"the benchmark makes {key} and the page no longer does: remove it from bench/deployed"
        )
    for key in sorted(set(P.NOT_EXERCISED) - set(page_requests)):
        problems.append(f"protocol.NOT_EXERCISED lists {key}, which the page no longer makes")
    for key in sorted(exercised & set(P.NOT_EXERCISED)):
        problems.append(f"{key} is both in protocol.EXERCISED and protocol.NOT_EXERCISED")
    assert not problems, "\n".join(problems)


def test_every_request_the_benchmark_lists_is_made_by_its_clients() -> None:
    source = _client_source()
    unused = [
        f"{r.key} (protocol.{CONSTANT_NAMES[r.key]})"
        for r in P.EXERCISED
        if not re.search(rf"\bP\.{CONSTANT_NAMES[r.key]}\b", source)
    ]
    assert not unused, "listed in protocol.EXERCISED but never sent by console.py/visitor.py: " + ", ".join(
        unused
    )


def test_the_clients_send_requests_only_through_the_listed_constants() -> None:
    # A literal path in a client would be a request the page check cannot see.
    literals = re.findall(r"\"(/(?:console|chat)/[^\"]*)\"", _client_source())
    assert literals == ["/console/login"], f"paths written out in the clients: {literals}"


def test_the_websockets_are_the_pages() -> None:
    page = set(_keys(pagecheck.console_page(), "ws ")) | set(_keys(pagecheck.chat_page(), "ws "))
    assert page == {f"ws {P.CONSOLE_WS}", f"ws {P.CHAT_WS}"}, f"the pages open {sorted(page)}"


def _frame_problems(
    found: list[pagecheck.Found],
    sent: tuple[str, ...],
    not_sent: dict[str, str],
    page: str,
    client: str,
    listed: str,
) -> list[str]:
    """Where the frames a page sends on a socket and those its benchmark client sends differ."""
    on_page = _keys(found, "frame ")
    sends = {f"frame {t}" for t in sent}
    skipped = {f"frame {t}" for t in not_sent}
    problems = [
        f"{page} sends {k} ({', '.join(w)}) and the benchmark does not: add it to {client} and "
        f"protocol.{listed} (or {listed.replace('_SENT', '_NOT_SENT')})"
        for k, w in sorted(on_page.items())
        if k not in sends | skipped
    ]
    problems += [f"{client} sends {k} and {page} no longer does" for k in sorted(sends - set(on_page))]
    problems += [
        f"protocol.{listed.replace('_SENT', '_NOT_SENT')} lists {k}, which {page} no longer sends"
        for k in sorted(skipped - set(on_page))
    ]
    return problems


def test_the_visitor_sends_the_frames_chat_js_sends() -> None:
    problems = _frame_problems(
        pagecheck.chat_page(),
        P.FRAMES_SENT,
        P.FRAMES_NOT_SENT,
        "chat.js",
        "bench/deployed/visitor.py",
        "FRAMES_SENT",
    )
    assert not problems, "\n".join(problems)
    source = (CLIENTS / "visitor.py").read_text()
    for name in ("FRAME_HELLO", "FRAME_TYPING", "FRAME_MESSAGE", "FRAME_SEEN"):
        assert re.search(rf"\"type\": {name}\b", source), f"visitor.py never sends {name}"


def test_the_console_sends_the_frames_the_console_page_sends() -> None:
    problems = _frame_problems(
        pagecheck.console_frames(),
        P.CONSOLE_FRAMES_SENT,
        P.CONSOLE_FRAMES_NOT_SENT,
        "the console page's live socket",
        "bench/deployed/console.py",
        "CONSOLE_FRAMES_SENT",
    )
    assert not problems, "\n".join(problems)
    source = (CLIENTS / "console.py").read_text()
    for name in ("CONSOLE_FRAME_TYPING", "CONSOLE_FRAME_SNAPSHOT"):
        assert re.search(rf"\"type\": P\.{name}\b", source), f"console.py never sends {name}"


@pytest.mark.parametrize("timer", P.TIMERS, ids=lambda t: t.what)
def test_the_clients_timers_are_the_pages(timer: P.Timer) -> None:
    found = pagecheck.timer_in_source(timer.file, timer.pattern)
    assert found is not None, (
        f"{timer.what}: the timer is no longer in {timer.file} (pattern {timer.pattern!r})"
    )
    assert found == timer.seconds, (
        f"{timer.what}: {timer.file} now waits {found} s, the benchmark {timer.seconds} s: "
        "change it in bench/deployed/protocol.py"
    )


def test_the_path_templates_are_read_as_the_page_builds_them() -> None:
    consts = {"base": '"/console/api/conversations/" + id'}
    assert pagecheck.template('base + "/referrals"', consts) == "/console/api/conversations/{}/referrals"
    assert (
        pagecheck.template('"/console/api/handoff/proposals?" + q.toString()', {})
        == "/console/api/handoff/proposals"
    )
    expr = '"/console/api/conversations/" + convId + "/messages/" + m.id + "/correction"'
    assert pagecheck.template(expr, {}) == "/console/api/conversations/{}/messages/{}/correction"


def test_a_new_request_on_the_page_is_named(tmp_path: Path) -> None:
    # The check can fail: a page script with one more call is reported with its file and line.
    script = tmp_path / "console.js"
    script.write_text('x();\nconst res = await api("POST", "/console/api/conversations/" + id + "/next");\n')
    found = pagecheck.requests_in(script)
    assert [str(f) for f in found] == ["POST /console/api/conversations/{}/next  (console.js:2)"]
    assert found[0].key not in {r.key for r in P.EXERCISED} | set(P.NOT_EXERCISED)


def test_the_pages_reach_the_network_only_in_ways_the_check_reads() -> None:
    # The check reads api()/apiAction() calls, send({type}) frames and websocket paths; a page
    # script that called fetch() itself (or a beacon, an XHR, an event stream) would slip past it.
    scripts = [pagecheck.CONSOLE_STATIC / n for n in pagecheck.CONSOLE_PAGE_SCRIPTS] + [
        pagecheck.CHAT_STATIC / "chat.js"
    ]
    other = re.compile(r"\bfetch\(|XMLHttpRequest|sendBeacon|EventSource|new WebSocket\(")
    allowed = {"common.js": {"fetch(", "new WebSocket("}, "chat.js": {"new WebSocket("}}
    problems = []
    for path in scripts:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in other.finditer(line):
                if m.group(0) not in allowed.get(path.name, set()):
                    problems.append(
                        f"{path.name}:{n} reaches the network with {m.group(0)}: teach bench/deployed/pagecheck.py to read it"
                    )
    assert not problems, "\n".join(problems)
