"""An e-mail channel that cannot reach its servers says which server, which step and what to check:
in the log (WARNING, no traceback) and in /healthz."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

import pytest

from bots.email import EmailAdapter
from gateway.channel import AdapterState
from gateway.envelope import new_conversation_id
from gateway.errors import ChannelConnectError
from tests.bots.email.mailstore_ingress import SqliteIngress
from tests.bots.email.mailtest_support import FROM_ADDRESS, PSEUDONYM_KEY, eventually
from tests.bots.email.test_email import outgoing
from tests.harness import make_settings, running


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def config(**overrides: Any) -> dict[str, Any]:
    return {
        "imap_host": "127.0.0.1",
        "imap_port": closed_port(),
        "imap_user": "stod",
        "imap_password": "p",
        "imap_ssl": False,
        "smtp_host": "127.0.0.1",
        "smtp_port": closed_port(),
        "smtp_security": "none",
        "from_address": FROM_ADDRESS,
        **overrides,
    }


def warnings_of(caplog: pytest.LogCaptureFixture, needle: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if needle in r.getMessage()]


@pytest.fixture
async def adapters() -> Any:
    started: list[EmailAdapter] = []
    yield started
    for adapter in started:
        await adapter.stop()


@pytest.mark.parametrize(
    ("host", "step", "detail", "hint"),
    [
        ("127.0.0.1", "TCP connect", "connection refused", "that the server runs and listens on this port"),
        ("imap.does-not-exist.invalid", "DNS lookup", "", "the host name and DNS"),
    ],
)
async def test_imap_outage_names_server_step_and_what_to_check(
    host: str,
    step: str,
    detail: str,
    hint: str,
    adapters: list[EmailAdapter],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    cfg = config(imap_host=host)
    adapter = EmailAdapter(cfg, pseudonym_key=PSEUDONYM_KEY)
    adapters.append(adapter)

    await adapter.start(SqliteIngress(tmp_path / "in.db"))
    await eventually(lambda: adapter.state() == AdapterState.TRANSIENT_ERROR, what="the outage")
    error = str(adapter.health()["error"])
    assert error.startswith(f"IMAP {host}:{cfg['imap_port']}: {step} failed ("), error
    assert detail in error and error.endswith(f"; check {hint}")
    [record, *_] = warnings_of(caplog, f"channel email: IMAP {host}")
    assert record.levelname == "WARNING" and record.exc_info is None
    assert record.getMessage() == f"channel email: {error}"


async def test_smtp_outage_names_server_step_and_what_to_check(caplog: pytest.LogCaptureFixture) -> None:
    cfg = config()
    adapter = EmailAdapter(cfg, pseudonym_key=PSEUDONYM_KEY)
    with pytest.raises(ChannelConnectError) as caught:
        await adapter.send(outgoing("Hej", new_conversation_id(), {"subject": "x"}), "person@example.se")
    expected = (
        f"SMTP 127.0.0.1:{cfg['smtp_port']}: TCP connect failed (connection refused); "
        "check that the server runs and listens on this port"
    )
    assert str(caught.value) == expected
    assert adapter.health()["smtp_error"] == expected
    [record] = warnings_of(caplog, "channel email: SMTP")
    assert record.levelname == "WARNING" and record.exc_info is None
    assert "person@example.se" not in caplog.text


async def test_healthz_says_what_failed(sqlite_url: str, tmp_path: Path) -> None:
    cfg = config()
    adapter = EmailAdapter(EmailAdapter.validate_config("channels.email", cfg), pseudonym_key=PSEUDONYM_KEY)
    async with running(make_settings(sqlite_url, tmp_path), adapters=[adapter]) as gw:
        await eventually(lambda: adapter.state() == AdapterState.TRANSIENT_ERROR, what="the outage")
        resp = await gw.browser().get("/healthz")
        body = await resp.json()
        with pytest.raises(ChannelConnectError):  # what the egress meets when it sends a reply
            await adapter.send(outgoing("Hej", new_conversation_id(), {"subject": "x"}), "person@example.se")
        smtp = (await (await gw.browser().get("/healthz")).json())["channels"]["email"]["smtp_error"]
    assert smtp.startswith(f"SMTP 127.0.0.1:{cfg['smtp_port']}: TCP connect failed (connection refused)")
    assert body["status"] == "degraded"
    assert body["channels"]["email"]["error"] == (
        f"IMAP 127.0.0.1:{cfg['imap_port']}: TCP connect failed (connection refused); "
        "check that the server runs and listens on this port"
    )
