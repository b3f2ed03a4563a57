"""Words written into code instead of a catalogue (the test that keeps them out,
tests/gateway/test_catalogue_usage.py).

Found statically, as :mod:`gateway.catalogue_usage` finds ids:

* browser scripts (``handoff/console/static/*.js``, ``bots/webchat/static/*.js``): a string literal
  with a Swedish letter (å ä ö), or one that is a whole Swedish catalogue text of three letters or
  more (a copy of a catalogue's word in a script) unless it is spelt like a code (``"normal"``);
* templates and pages (``*.html`` under ``handoff`` and ``bots``): a Swedish letter outside the
  template's own tags, styles and scripts (``{{ _("id") }}`` is how a page says a word);
* Python (``gateway``, ``bots``, ``handoff``): a dict literal with ``"sv"`` and ``"en"`` keys whose
  Swedish side is written out (a string, or a dict of strings), and a call ``_l("…", "…")`` with two
  written-out texts.  A ``{"sv": row.name_sv, "en": row.name_en}`` of data is not a finding.

``ALLOWED`` names what is neither (a character set, a keyword the channel recognises) and why.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from gateway import catalogues

ROOT = Path(__file__).resolve().parent.parent
SCRIPT_DIRS = ("handoff/console/static", "bots/webchat/static")
PYTHON_TREES = ("gateway", "bots", "handoff")
SWEDISH_LETTER = re.compile(r"[åäöÅÄÖ]")
CODE = re.compile(r"^[a-z][a-z0-9_]*$")
"""A code the scripts compare with ("normal", "risk"), though a Swedish word is spelt the same."""
_COMMENT = re.compile(r"/\*.*?\*/|(?<![:\\\"'])//[^\n]*", re.S)
_TEMPLATE_CODE = re.compile(r"\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}|<style.*?</style>|<script.*?</script>", re.S)
_STRING = re.compile(r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`""")
ALLOWED: dict[str, str] = {
    "handoff/console/static/sms.js": "the GSM-7 alphabet (which characters an SMS can carry)",
}
"""Files whose literals are not words, with the reason."""

Finding = tuple[str, int, str]
"""(file, line, the literal)"""


def _swedish_texts() -> frozenset[str]:
    texts = set(catalogues.strings("console", "sv").values()) | set(
        catalogues.strings("person", "sv").values()
    )
    return frozenset(t for t in texts if sum(c.isalpha() for c in t) >= 3 and "{" not in t)


def script_findings(path: Path, rel: str, swedish: Iterable[str] | None = None) -> Iterator[Finding]:
    known = frozenset(swedish) if swedish is not None else _swedish_texts()
    source = path.read_text(encoding="utf-8")
    # Blank the comments (kept as many newlines, for the line numbers).
    code = _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), source)
    for match in _STRING.finditer(code):
        value = match.group(0)[1:-1]
        if SWEDISH_LETTER.search(value) or (value in known and not CODE.match(value)):
            yield rel, code.count("\n", 0, match.start()) + 1, value


def template_findings(path: Path, rel: str) -> Iterator[Finding]:
    source = path.read_text(encoding="utf-8")
    text = _TEMPLATE_CODE.sub(lambda m: "\n" * m.group(0).count("\n"), source)
    for match in re.finditer(r"\S*[åäöÅÄÖ]\S*", text):
        yield rel, text.count("\n", 0, match.start()) + 1, match.group(0)


def _written(node: ast.expr | None) -> bool:
    """A text written out: a string constant, or a dict whose values all are."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Dict):
        return bool(node.values) and all(_written(v) for v in node.values)
    return False


def python_findings(path: Path, rel: str) -> Iterator[Finding]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=rel)):
        if isinstance(node, ast.Dict):
            keys = {
                k.value: v for k, v in zip(node.keys, node.values, strict=True) if isinstance(k, ast.Constant)
            }
            if "sv" in keys and "en" in keys and _written(keys["sv"]):
                yield rel, node.lineno, ast.unparse(keys["sv"])[:60]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_l":
            if len(node.args) == 2 and all(_written(a) for a in node.args):
                yield rel, node.lineno, ast.unparse(node.args[0])[:60]


def findings(root: Path = ROOT) -> list[Finding]:
    """Every word written into code under the project root, in file order."""
    found: list[Finding] = []
    swedish = _swedish_texts()
    for folder in SCRIPT_DIRS:
        for path in sorted((root / folder).glob("*.js")):
            rel = str(path.relative_to(root))
            if rel not in ALLOWED:
                found.extend(script_findings(path, rel, swedish))
    for tree in ("handoff", "bots"):
        for path in sorted((root / tree).rglob("*.html")):
            found.extend(template_findings(path, str(path.relative_to(root))))
    for tree in PYTHON_TREES:
        for path in sorted((root / tree).rglob("*.py")):
            found.extend(python_findings(path, str(path.relative_to(root))))
    return found
