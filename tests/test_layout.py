"""The tests mirror the source (tests/README.md): checked on the file tree.

* Every package under gateway/, bots/, nlu/ and handoff/ has a test folder at the same path
  (``handoff/referrals/`` -> ``tests/handoff/referrals/``), a Python package of its own.
* Every module a layer holds itself (``gateway/egress.py``, ``bots/memory.py``, ``nlu/risk.py``,
  ``handoff/queue.py``) has a test module named after it in the layer's test folder
  (``tests/gateway/test_egress.py``, or ``test_egress_<aspect>.py``), or a test folder named after
  it (``tests/bots/email/`` for ``bots/email.py`` and its ``bots/email_*.py`` parts), unless
  :data:`NOT_MIRRORED` says why not.
* Every test folder mirrors a source package or module, or is one of :data:`WHOLE_SYSTEM`'s
  suites: a test added to an old folder (``tests/core``, ``tests/console``) fails here.

A whole-system suite (this module, test_layers.py, and the folders of :data:`WHOLE_SYSTEM`) tests
no one module.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
LAYERS = ("gateway", "bots", "nlu", "handoff")

# Test folders that run the whole system rather than one module.
WHOLE_SYSTEM = {
    "bench": "bench/deployed's clients kept in step with the shipped pages (the benchmark is no test)",
    "browser": "the console and the web chat in headless Chromium",
    "channels_e2e": "each channel through the real gateway, in one process or two",
    "faults": "fault injection into two real gateway processes",
    "fleet": "two real gateway processes sharing PostgreSQL and Redis",
}

_DATA = "data only (no behaviour of its own to test)"

# A layer's own modules without a test module of their own, and why.  Keep it short: a module
# that gets its own test module must leave this list (test_the_list_of_exceptions_is_current).
NOT_MIRRORED: dict[str, str] = {
    "gateway/app.py": "the composition root: every test builds it through tests/harness.py",
    "gateway/appkeys.py": _DATA + ": the app's state keys",
    "gateway/config_checks.py": "checks of the shift settings: tests/handoff/shift/test_presence.py (test_the_shift_settings_are_checked)",
    "gateway/config_schema.py": _DATA
    + ": the configuration schema; checked by tests/gateway/test_config.py and test_config_reference.py",
    "gateway/metrics.py": "the Prometheus instruments: tests/gateway/test_probes.py reads them from /metrics",
    "gateway/errors.py": _DATA + ": the error hierarchy; each error is asserted where it is raised",
    "gateway/events.py": _DATA + ": topic names and payload TypedDicts",
    "gateway/crypto.py": "covered by tests/gateway/store/test_db.py and tests/gateway/test_keys.py",
    "gateway/keys_cli.py": "covered by tests/gateway/test_keys.py (rotation on command)",
    "gateway/keys_recognise.py": "covered by tests/gateway/test_keys.py (pseudonym rotation)",
    "gateway/logthrottle.py": "covered by tests/bots/webchat/test_fd_storm.py (a few log lines)",
    "gateway/queue.py": "covered by tests/gateway/test_staff.py (claims, capacity)",
    "gateway/services.py": "covered by tests/gateway/test_channels.py (a channel from outside)",
    "gateway/triage_handoff.py": "covered by tests/gateway/test_pipeline.py (skipped and failed triage)",
    "gateway/writes.py": "covered by tests/gateway/test_pipeline.py and test_batch.py",
    "bots/memory.py": "the harness's channel: every test of tests/gateway drives it",
    "bots/email_charset.py": "covered by tests/bots/email/test_email_parse.py",
    "bots/email_parts.py": "covered by tests/bots/email/test_email_parse.py",
    "bots/email_text.py": "covered by tests/bots/email/test_email_parse.py",
    "bots/email_out.py": "covered by tests/bots/email/test_email.py and test_email_tls.py (SMTP)",
    "bots/email_privacy.py": "covered by tests/bots/email/test_email.py and test_email_gateway.py",
    "nlu/result.py": _DATA + ": the triage contract's types",
    "nlu/lexicon.py": _DATA + ": word classes for the classifier",
    "nlu/decision.py": "covered by tests/nlu/test_rules.py, test_rules_precedence.py, test_triage.py",
    "nlu/evaluate_cmd.py": "covered by tests/nlu/test_embedding.py",
    "nlu/evaluate_groups.py": "covered by tests/nlu/test_evaluate_quality.py",
    "nlu/risk_lexicon.py": "covered by tests/nlu/test_risk.py",
    "nlu/risk_signals.py": "covered by tests/nlu/test_risk.py",
    "nlu/text.py": "covered by tests/nlu/test_risk.py and test_evaluate_quality.py",
    "handoff/corrections.py": "covered by tests/handoff/triage_admin/test_corrections_admin.py",
    "handoff/queue.py": "covered by tests/gateway/test_pipeline.py (the queue's order)",
    "handoff/reading.py": "the shared reading of referrals and disclosures: covered by tests/handoff/referrals and tests/handoff/disclosures",
    "handoff/risk.py": "covered by tests/handoff/console/test_why.py (the risk reason shown)",
}


def _source_packages() -> list[Path]:
    """Every package of the layers, as a path relative to the checkout (migrations aside)."""
    found = []
    for layer in LAYERS:
        for init in sorted((ROOT / layer).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT)
            if "migrations" not in rel.parts:
                found.append(rel)
    return found


def _layer_modules() -> list[Path]:
    return [
        path.relative_to(ROOT)
        for layer in LAYERS
        for path in sorted((ROOT / layer).glob("*.py"))
        if path.name != "__init__.py"
    ]


def _mirrored(module: Path) -> bool:
    """``tests/<layer>/test_<name>.py``, ``test_<name>_*.py`` or a folder ``<name>/``; a module
    ``<head>_<part>.py`` also in the folder ``tests/<layer>/<head>/`` when there is one."""
    folder = TESTS / module.parent
    name = module.stem
    places = [folder]
    head = name.split("_")[0]
    if (folder / head).is_dir():
        places.append(folder / head)
    return any(
        (place / name).is_dir()
        or (place / f"test_{name}.py").is_file()
        or any(place.glob(f"test_{name}_*.py"))
        for place in places
    )


def test_every_package_has_a_test_folder() -> None:
    missing = [
        f"{pkg}/ -> tests/{pkg}/" for pkg in _source_packages() if not (TESTS / pkg / "__init__.py").is_file()
    ]
    assert not missing, "packages without a test folder (a package with __init__.py):\n" + "\n".join(missing)


def test_every_module_of_a_layer_has_a_test_module() -> None:
    missing = [
        f"{module} -> tests/{module.parent}/test_{module.stem}.py"
        for module in _layer_modules()
        if module.as_posix() not in NOT_MIRRORED and not _mirrored(module)
    ]
    assert not missing, (
        "modules without a test module named after them (add one, or an entry to NOT_MIRRORED "
        "that says why):\n" + "\n".join(missing)
    )


def test_the_list_of_exceptions_is_current() -> None:
    modules = {module.as_posix(): module for module in _layer_modules()}
    gone = [name for name in NOT_MIRRORED if name not in modules]
    assert not gone, f"NOT_MIRRORED names modules that do not exist: {gone}"
    tested = [name for name in NOT_MIRRORED if _mirrored(modules[name])]
    assert not tested, f"these have a test module now; remove them from NOT_MIRRORED: {tested}"
    assert all(reason.strip() for reason in NOT_MIRRORED.values())


def test_every_test_folder_mirrors_the_source_or_is_a_whole_system_suite() -> None:
    packages = {pkg.as_posix() for pkg in _source_packages()}
    modules = {
        path.relative_to(ROOT).with_suffix("").as_posix()
        for layer in LAYERS
        for path in (ROOT / layer).rglob("*.py")
    }
    strays = []
    for init in sorted(TESTS.rglob("__init__.py")):
        folder = init.parent.relative_to(TESTS).as_posix()
        if folder == "." or folder in packages or folder in modules:
            continue
        if folder.split("/")[0] in WHOLE_SYSTEM:
            continue
        strays.append(f"tests/{folder}/")
    assert not strays, (
        "test folders that mirror no source package or module (tests/README.md has the mapping "
        "from the old folders):\n" + "\n".join(strays)
    )


def test_every_test_folder_is_a_package() -> None:
    """Tests import each other as ``tests.<folder>.<module>``: every folder holding Python files
    needs its ``__init__.py``."""
    folders = {path.parent for path in TESTS.rglob("*.py") if "__pycache__" not in path.parts}
    missing = sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").is_file())
    assert not missing, f"folders without __init__.py: {missing}"
