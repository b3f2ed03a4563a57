"""The configuration reference: printed from the schemas, committed as docs/configuration.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.app import CHANNEL_MODULES
from gateway.channel import registered_channel
from gateway.config import load_settings
from gateway.config_schema import SCHEMA
from gateway.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_docs_configuration_is_what_the_command_prints() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "config", "reference"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == printed, (
        "docs/configuration.md is stale: helpline config reference > docs/configuration.md"
    )


def _keys(schema: dict[str, object], prefix: str = "") -> list[tuple[str, tuple[object, ...]]]:
    found: list[tuple[str, tuple[object, ...]]] = []
    for key, spec in schema.items():
        if isinstance(spec, dict):
            found += _keys(spec, f"{prefix}{key}.")
        else:
            assert isinstance(spec, tuple)
            found.append((f"{prefix}{key}", spec))
    return found


def test_every_key_says_what_it_does() -> None:
    undocumented = [path for path, spec in _keys(SCHEMA) if len(spec) < 3 or not str(spec[2]).strip()]
    for name, module_name in CHANNEL_MODULES.items():
        __import__(module_name)
        cls = registered_channel(name)
        assert cls is not None
        undocumented += [
            f"channels.{name}.{key}"
            for key, spec in cls.config_schema.items()
            if len(spec) < 4 or not str(spec[3]).strip()
        ]
    assert undocumented == []


def test_reference_names_the_keys_the_issue_found_only_in_docstrings() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for key in ("imap_user", "imap_port", "imap_ssl", "smtp_port", "smtp_security", "plaintext", "base_url"):
        assert f"| `{key}` |" in text
    assert "| `console.default_capacity` | int | `3` |" in text
    assert '| `logging.format` | str | `"plain"` |' in text


def test_retention_broker_events_hours_is_accepted(tmp_path: Path) -> None:
    settings = load_settings(
        environ={"HELPLINE_RETENTION__BROKER_EVENTS_HOURS": "12", "HELPLINE_DATA_DIR": str(tmp_path)}
    )
    assert settings.raw["retention"]["broker_events_hours"] == 12.0


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [
        ("HELPLINE_LOG_FORMAT", "xml", "logging.format"),
        ("HELPLINE_LOGGING__LEVEL", "LOUD", "logging.level"),
        ("HELPLINE_METRICS__PORT", "70000", "metrics.port"),
    ],
)
def test_new_sections_refuse_bad_values(tmp_path: Path, variable: str, value: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={variable: value, "HELPLINE_DATA_DIR": str(tmp_path)})
    assert caught.value.key == key
