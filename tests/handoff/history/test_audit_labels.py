"""Every audit action the source records has words in Swedish and English for the audit page
(issue 17, item 2): the actions are read off the source, as the constant action of each call of a
function named ``audit`` (``repo.audit(session, "conversation.claimed", ...)``) or ``_audit``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from handoff.history.audit_labels import action_label, audit_actions

ROOT = Path(__file__).resolve().parents[3]
ACTION = re.compile(r"^[a-z_]+(\.[a-z_]+){1,2}$")


def _recorded() -> set[str]:
    actions: set[str] = set()
    for path in [*(ROOT / "handoff").rglob("*.py"), *(ROOT / "gateway").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if "audit" not in name:
                continue
            for arg in [*node.args, *(k.value for k in node.keywords if k.arg == "action")]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and ACTION.match(arg.value):
                    actions.add(arg.value)
    return actions


def test_every_recorded_action_has_words_in_both_languages() -> None:
    recorded = _recorded()
    assert {"conversation.claimed", "auth.login", "person.unlinked"} <= recorded  # the scan works
    for lang in ("sv", "en"):
        assert sorted(recorded - set(audit_actions(lang))) == [], lang
    assert audit_actions("sv").keys() == audit_actions("en").keys()


def test_an_action_without_words_is_none_not_a_guess() -> None:
    assert action_label("conversation.claimed", "sv") == "Samtal taget"
    assert action_label("conversation.claimed", "en") == "Conversation taken"
    assert action_label("something.new", "sv") is None
