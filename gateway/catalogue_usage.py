"""Which catalogue ids the code, the templates and the browser scripts use (``helpline i18n extract``,
and the test that fails on an id used but absent from a catalogue).

Found statically, so an id built at run time (``f"err_{code}"``) is not seen; write ids as literals
where you can.  What counts as a use:

* Python: a call ``text("<domain>", <lang>, "<id>")`` (``catalogues.text``) with a literal id, and any
  string literal that is a whole ``person`` id of a known section (``"telegram.welcome"``,
  ``"xmpp.queue"``), since channel code passes ids to its helpers;
* the web chat's page and script: ``data-i18n="x"``, ``{{t:x}}`` and ``t("x")`` (id ``chat.x``);
  the widget's ``T.x`` (id ``widget.x``);
* Jinja templates: ``_("x")``, ``gettext("x")``, ``t.x`` and ``t["x"]``; the console's scripts:
  ``t("x")`` (domain ``console``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from gateway.catalogues import DOMAINS

ROOT = Path(__file__).resolve().parent.parent
PYTHON_TREES = ("gateway", "bots", "handoff", "nlu")
PERSON_SECTIONS = (
    "chat",
    "widget",
    "telegram",
    "xmpp",
    "sms",
    "consent",
    "referral_label",
    "notice",
    "language",
)
_PERSON_ID = re.compile(rf"(?:{'|'.join(PERSON_SECTIONS)})\.[a-z_]+(?:\.[a-z_]+)?")
_NOT_IDS = re.compile(r".*\.(?:js|css|html|py|json|yml|po|mo)$")
WEBCHAT_STATIC = Path("bots/webchat/static")
_CHAT_PATTERNS = (
    re.compile(r'data-i18n="([a-z_]+)"'),
    re.compile(r"\{\{t:([a-z_]+)\}\}"),
    re.compile(r'\bt\("([a-z_]+)"\s*[,)]'),
)
_WIDGET_PATTERN = re.compile(r"\bT\.([a-z_]+)")
_TEMPLATE_PATTERNS = (
    re.compile(r"""\b(?:_|gettext)\(\s*["']([A-Za-z0-9_.]+)["']\s*\)"""),
    re.compile(r"(?<![\w.])t\.([a-z][a-z0-9_]*)\b(?!\s*\()"),
    re.compile(r"""(?<![\w.])t\[["']([a-z][a-z0-9_.]*)["']\]"""),
)
_CONSOLE_SCRIPT_PATTERN = re.compile(r'(?<![\w.])t\("([a-z][a-z0-9_]*)"\s*[,)]')
TEMPLATE_DIRS = ("handoff",)
CONSOLE_STATIC = Path("handoff/console/static")

Use = tuple[str, str, str]
"""(domain, msgid, where)"""


def _python_uses(path: Path, rel: str) -> Iterator[Use]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            args = node.args
            if (
                name == "text"
                and len(args) >= 3
                and isinstance(args[0], ast.Constant)
                and args[0].value in DOMAINS
                and isinstance(args[2], ast.Constant)
                and isinstance(args[2].value, str)
            ):
                yield str(args[0].value), args[2].value, f"{rel}:{node.lineno}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            value = node.value
            if _PERSON_ID.fullmatch(value) and not _NOT_IDS.match(value):
                yield "person", value, f"{rel}:{node.lineno}"


def _regex_uses(
    path: Path, rel: str, patterns: Iterable[re.Pattern[str]], domain: str, prefix: str
) -> Iterator[Use]:
    content = path.read_text(encoding="utf-8")
    for pattern in patterns:
        for match in pattern.finditer(content):
            line = content.count("\n", 0, match.start()) + 1
            yield domain, prefix + match.group(1), f"{rel}:{line}"


def uses(root: Path = ROOT) -> list[Use]:
    """Every id use found under the project root, in file order."""
    found: list[Use] = []
    for tree in PYTHON_TREES:
        for path in sorted((root / tree).rglob("*.py")):
            found.extend(_python_uses(path, str(path.relative_to(root))))
    static = root / WEBCHAT_STATIC
    for name in ("chat.html", "chat.js"):
        found.extend(
            _regex_uses(static / name, str(WEBCHAT_STATIC / name), _CHAT_PATTERNS, "person", "chat.")
        )
    found.extend(
        _regex_uses(
            static / "widget.js", str(WEBCHAT_STATIC / "widget.js"), (_WIDGET_PATTERN,), "person", "widget."
        )
    )
    for tree in TEMPLATE_DIRS:
        for path in sorted((root / tree).rglob("templates/*.html")):
            found.extend(_regex_uses(path, str(path.relative_to(root)), _TEMPLATE_PATTERNS, "console", ""))
    for path in sorted((root / CONSOLE_STATIC).glob("*.js")):
        found.extend(
            _regex_uses(path, str(path.relative_to(root)), (_CONSOLE_SCRIPT_PATTERN,), "console", "")
        )
    return found
