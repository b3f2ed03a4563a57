"""The log formats (gateway.logs): plain for development, JSON one event per line."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import logs
from gateway.web_errors import SERVER_OPTIONS

ROOT = Path(__file__).resolve().parents[2]


def _record_through(fmt: str, emit: object) -> str:
    stream = io.StringIO()
    handler = logs.configure(fmt)
    handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        assert callable(emit)
        emit()
    finally:
        logging.getLogger().removeHandler(handler)
    return stream.getvalue()


def test_json_is_one_event_per_line_with_extra_fields() -> None:
    log = logging.getLogger("gateway.test")

    def emit() -> None:
        log.warning("channel %s: connection failed", "email", extra={"channel": "email", "port": 993})
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            log.exception("a bug")

    lines = _record_through("json", emit).splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "WARNING" and first["logger"] == "gateway.test"
    assert first["message"] == "channel email: connection failed"
    assert first["channel"] == "email" and first["port"] == 993
    assert first["time"].endswith("+00:00")
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exception"]


def test_json_keeps_text_as_it_is_so_that_privacy_checks_find_it() -> None:
    log = logging.getLogger("gateway.test")
    out = _record_through("json", lambda: log.info("%s", "hej då, åäö"))
    assert "hej då, åäö" in out  # not \\u00e5: a search of the log for a text finds it


def test_plain_stays_a_line_for_people() -> None:
    out = _record_through("plain", lambda: logging.getLogger("gateway.test").info("started"))
    assert out.rstrip().endswith("INFO gateway.test: started")
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


def test_no_access_log_that_would_name_the_client() -> None:
    assert SERVER_OPTIONS["access_log"] is None
    _record_through("json", lambda: None)
    assert logging.getLogger("aiohttp.access").getEffectiveLevel() > logging.ERROR


def test_the_command_line_logs_json_when_told(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "db", "upgrade"],
        cwd=ROOT,
        env={"HELPLINE_LOG_FORMAT": "json", "HELPLINE_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "database is up to date" in done.stdout
    for line in done.stderr.splitlines():
        assert set(json.loads(line)) >= {"time", "level", "logger", "message"}
