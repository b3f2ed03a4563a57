"""Every error code the gateway's requests can be answered with has words in Swedish and in English
(issue 17, item 2): the codes are read off the source (the first argument of InvalidInput,
NotFound, Conflict and PermissionDenied and of ``problem``, and every ``{"error": ...}`` literal),
and each must be in the console's catalogue as the code itself, ``error_<code>`` or ``e_<code>``
(what ``HL.errorText`` and the pages look up) or ``rec_<code>`` (the documentation script's)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from handoff.console.i18n import strings
from tests.browser.sv_catalogue import ROOT

CODE = re.compile(r"^[a-z][a-z0-9_]*$")
ERRORS = {"InvalidInput", "NotFound", "Conflict", "PermissionDenied", "DeadLettered"}
NOT_FOR_PEOPLE = {
    "not_authorised": "the metrics endpoint's token (gateway/probes.py), read by a scraper",
    "bad_signature": "a recipient's signed webhook (handoff/referrals/web.py), read by its system",
    "no_secret": "a delivery's transport without its secret (handoff/referrals/transport.py), logged",
    "closed": "the broker's own state (gateway/broker/redis.py), never answered",
    "bad_origin": "a live socket opened from another site (handoff/console/live_socket.py): no page reads it",
    "not_ready": "the live socket before its hub started (handoff/console/live_socket.py): the page reconnects",
}
"""Codes no person reads, with where they go instead."""


def _codes() -> dict[str, set[str]]:
    codes: dict[str, set[str]] = {}

    def found(value: object, path: Path) -> None:
        if isinstance(value, str) and CODE.match(value):
            codes.setdefault(value, set()).add(str(path.relative_to(ROOT)))

    for path in [*(ROOT / "handoff").rglob("*.py"), *(ROOT / "gateway").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name in ERRORS and node.args and isinstance(node.args[0], ast.Constant):
                    found(node.args[0].value, path)
                if name == "problem" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                    found(node.args[1].value, path)
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == "error"
                        and isinstance(value, ast.Constant)
                    ):
                        found(value.value, path)
    return codes


def test_every_error_code_has_swedish_and_english_words() -> None:
    codes = _codes()
    assert {"capacity_full", "not_available", "next_only", "not_closed"} <= set(codes)  # the scan works
    for lang in ("sv", "en"):
        words = set(strings(lang))
        missing = {
            code: sorted(where)
            for code, where in codes.items()
            if code not in NOT_FOR_PEOPLE and not words & {code, f"error_{code}", f"e_{code}", f"rec_{code}"}
        }
        assert missing == {}, (lang, missing)


def test_the_generic_codes_of_the_error_mapping_have_words() -> None:
    from gateway.web_errors import CLIENT_ERRORS

    for _kind, _status, code in CLIENT_ERRORS:
        assert strings("sv")[f"error_{code}"] and strings("en")[f"error_{code}"]
