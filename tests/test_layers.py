"""The packages' layers (docs/architecture.md, "Layers"), checked on the source with ``ast``.  A whole-system
test: it mirrors no one module (tests/README.md).

Every ``import``/``from … import`` counts, wherever it stands: at module level, inside a function
(a lazy import), under ``if TYPE_CHECKING:`` (a type-only import still couples the modules and
would become a real one the day someone needs the name at run time), and so does
``importlib.import_module("literal")``.  An import resolves to the most specific module that
exists (``from gateway.store import repo`` is ``gateway.store.repo``); a package's ``__init__``
run implicitly before its submodule is not an edge.

Rules:

* ``gateway`` imports neither ``bots`` nor ``handoff``; the composition root (``gateway.app``) and
  the command line (``gateway.cli``) are the exceptions.
* ``bots`` imports from ``gateway`` only the contract modules (:data:`GATEWAY_CONTRACT`) and
  nothing from ``handoff``; the contract modules import only each other.
* ``nlu`` imports nothing from ``bots`` or ``handoff``.
* No import cycle among the modules of the four packages (strongly connected components of the
  module graph, lazy and type-only imports included).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "bots", "nlu", "handoff")

#: What a channel adapter may import from the gateway (docs/architecture.md, "Layers").
GATEWAY_CONTRACT = frozenset(
    {
        "gateway.channel",  # ChannelAdapter, ChannelServices, control signals, back-off, registry
        "gateway.envelope",  # Envelope, ids, pseudonyms, Priority
        "gateway.errors",  # the error hierarchy
        "gateway.catalogues",  # the words a person reads (gettext catalogues; imports no gateway module)
        "gateway.events",  # topic names and event payloads
        "gateway.tasks",  # cancel_and_wait (stop a background task)
        "gateway.sockets",  # close_all (close websockets at stop)
        "gateway.netfail",  # connect_failure (which server and step failed)
    }
)
"""Each contract module imports no module of the four packages outside the contract, so an adapter
that keeps to the list depends on nothing else of the gateway, not even indirectly."""

COMPOSITION = frozenset({"gateway.app", "gateway.cli"})


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module
    line: int
    text: str  # the statement, for the message

    def __str__(self) -> str:
        path = self.source.replace(".", "/")
        return f"{self.source} ({path}.py:{self.line}): {self.text}"


def _modules(root: Path = ROOT) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The most specific module of ours that ``name`` (dotted) denotes, or None (not ours)."""
    if name.split(".")[0] not in PACKAGES:
        return None
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(module, path).split(".")
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            names = [f"{base}.{alias.name}" for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        else:
            continue
        text = ast.get_source_segment(path.read_text(encoding="utf-8"), node) or ""
        text = " ".join(text.split())
        for name in names:
            target = _resolve(name, modules)
            if target is not None and target != module:
                yield Import(module, target, getattr(node, "lineno", 0), text)


def import_graph(root: Path = ROOT) -> list[Import]:
    modules = _modules(root)
    edges: list[Import] = []
    for module, path in modules.items():
        edges.extend(imports_of(module, path, modules))
    return edges


def _top(module: str) -> str:
    return module.split(".")[0]


def layer_violations(edges: list[Import], contract: frozenset[str] = GATEWAY_CONTRACT) -> list[str]:
    bad: list[str] = []
    for edge in edges:
        src, dst = _top(edge.source), _top(edge.target)
        if edge.source in contract and edge.target not in contract:
            bad.append(f"contract module imports {edge.target}, not in the contract: {edge}")
        elif src == "gateway" and dst in ("bots", "handoff") and edge.source not in COMPOSITION:
            bad.append(f"gateway imports {dst}: {edge}")
        elif src == "bots" and dst == "handoff":
            bad.append(f"bots imports handoff: {edge}")
        elif src == "bots" and dst == "gateway" and edge.target not in contract:
            bad.append(f"bots imports {edge.target}, not in the gateway's contract: {edge}")
        elif src == "nlu" and dst in ("bots", "handoff"):
            bad.append(f"nlu imports {dst}: {edge}")
    return list(dict.fromkeys(bad))  # one line per statement and target


def cycles(edges: list[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph[succ]))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def describe_cycle(component: list[str], edges: list[Import]) -> str:
    members = set(component)
    inside = [str(e) for e in edges if e.source in members and e.target in members]
    return "import cycle among " + ", ".join(component) + ":\n    " + "\n    ".join(sorted(set(inside)))


def test_layers() -> None:
    bad = layer_violations(import_graph())
    assert not bad, "imports across layers:\n  " + "\n  ".join(bad)


def test_no_import_cycles() -> None:
    edges = import_graph()
    found = cycles(edges)
    assert not found, "\n".join(describe_cycle(c, edges) for c in found)


def test_contract_modules_exist() -> None:
    modules = _modules()
    assert GATEWAY_CONTRACT <= set(modules), sorted(GATEWAY_CONTRACT - set(modules))


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """A made-up tree with each kind of fault: every one is found and named."""
    files = {
        "gateway/__init__.py": "",
        "gateway/pipeline.py": "def f():\n    from handoff import queue\n",
        "gateway/app.py": "import bots.chat\n",
        "gateway/channel.py": "import gateway.store\n",
        "gateway/store.py": "",
        "bots/__init__.py": "",
        "bots/chat.py": (
            "from typing import TYPE_CHECKING\nfrom gateway.channel import X\n"
            "if TYPE_CHECKING:\n    from gateway.store import Y\n"
        ),
        "nlu/__init__.py": "",
        "nlu/a.py": "from . import b\n",
        "nlu/b.py": "import importlib\nimportlib.import_module('nlu.a')\n",
        "handoff/__init__.py": "",
        "handoff/queue.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    edges = import_graph(tmp_path)
    bad = layer_violations(edges, frozenset({"gateway.channel"}))
    assert len(bad) == 3, bad
    assert (
        bad[1]
        == "gateway imports handoff: gateway.pipeline (gateway/pipeline.py:2): from handoff import queue"
    )
    assert bad[0].startswith("contract module imports gateway.store, not in the contract: gateway.channel")
    assert bad[2] == (
        "bots imports gateway.store, not in the gateway's contract: "
        "bots.chat (bots/chat.py:4): from gateway.store import Y"
    )
    assert cycles(edges) == [["nlu.a", "nlu.b"]]
    assert "nlu.b (nlu/b.py:2): importlib.import_module('nlu.a')" in describe_cycle(["nlu.a", "nlu.b"], edges)
