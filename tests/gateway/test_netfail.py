"""How a channel's receiver reports a failure (gateway.channel.run_with_reconnect): an expected
outage at WARNING without a traceback and named in /healthz, a bug at ERROR with its traceback."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any, ClassVar

import pytest

from gateway.channel import AdapterState, Backoff, ChannelAdapter, Delivery, Ingress, run_with_reconnect
from gateway.envelope import Envelope
from gateway.errors import ChannelConnectError
from gateway.netfail import connect_failure


class Flaky(ChannelAdapter):
    name: ClassVar[str] = "flaky"

    def __init__(self, error: BaseException) -> None:
        super().__init__({})
        self.error = error

    async def start(self, ingress: Ingress) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, envelope: Envelope, address: str) -> Delivery:
        raise NotImplementedError

    def describe_failure(self, exc: BaseException) -> ChannelConnectError | None:
        return connect_failure("Flaky API", "flaky.example", 4443, exc, step="handshake")


async def run_once(adapter: Flaky) -> None:
    stopping = asyncio.Event()

    async def connect_once() -> None:
        stopping.set()
        raise adapter.error

    await run_with_reconnect(adapter, connect_once, stopping, Backoff(initial=0.01, maximum=0.01))


async def test_an_expected_outage_is_a_warning_that_says_what_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    adapter = Flaky(OSError(113, "No route to host"))
    caplog.set_level(logging.INFO)
    await run_once(adapter)
    expected = "Flaky API flaky.example:4443: TCP connect failed (no route to host); check the network path to the server"
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.getMessage() == f"channel flaky: {expected}"
    assert record.levelname == "WARNING" and record.exc_info is None
    assert adapter.last_error is None  # stopped since, but it said so while it lasted
    assert adapter.state() is AdapterState.STOPPED


async def test_a_bug_is_an_error_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    adapter = Flaky(KeyError("update_id"))
    seen: list[Any] = []
    original = adapter.set_state

    def record_state(state: AdapterState, error: str | None = None) -> None:
        seen.append((state, error))
        original(state, error)

    adapter.set_state = record_state  # type: ignore[method-assign]
    await run_once(adapter)
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.levelname == "ERROR" and record.exc_info is not None
    assert record.getMessage() == "channel flaky: unexpected failure (KeyError)"
    assert (AdapterState.TRANSIENT_ERROR, "unexpected KeyError: see the log") in seen


@pytest.mark.parametrize(
    ("error", "step", "detail"),
    [
        (ConnectionRefusedError(111, "refused"), "TCP connect", "connection refused"),
        (socket.gaierror(-2, "Name or service not known"), "DNS lookup", "Name or service not known"),
        (TimeoutError(), "handshake", "timed out"),
        (ConnectionResetError(104, "reset"), "handshake", "connection closed by the server"),
    ],
)
def test_each_outage_names_its_step(error: BaseException, step: str, detail: str) -> None:
    wrapped = RuntimeError("library wrapper")
    wrapped.__cause__ = error
    found = connect_failure("Flaky API", "flaky.example", 4443, wrapped, step="handshake")
    assert found is not None
    assert (found.step, found.detail, found.where) == (step, detail, "flaky.example:4443")


def test_something_else_is_not_called_an_outage() -> None:
    assert connect_failure("Flaky API", "flaky.example", 4443, ValueError("bad json")) is None


def test_the_broker_logs_a_retried_outage_as_a_warning_and_a_bug_as_an_error() -> None:
    from gateway.broker.inprocess import failure_level, failure_summary

    outage = ChannelConnectError(
        "SMTP", "mail.example:587", "TCP connect", "connection refused", "the server"
    )
    assert failure_level(outage) == logging.WARNING
    assert failure_summary(outage) == "ChannelConnectError"  # the adapter said what failed
    try:
        raise KeyError("message_id")
    except KeyError as bug:
        assert failure_level(bug) == logging.ERROR
        assert "test_netfail.py" in failure_summary(bug)  # where it was raised


async def test_the_store_away_is_not_blamed_on_the_channels_server(caplog: pytest.LogCaptureFixture) -> None:
    from gateway.errors import StoreUnavailable

    store_away = StoreUnavailable("the store is unavailable")
    store_away.__cause__ = ConnectionRefusedError(111, "refused")  # the database's port, not the channel's
    adapter = Flaky(store_away)
    await run_once(adapter)
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.getMessage() == "channel flaky: the gateway is unavailable (StoreUnavailable); retrying"
    assert record.levelname == "WARNING" and "flaky.example" not in record.getMessage()
    assert connect_failure("Flaky API", "flaky.example", 4443, store_away) is None


async def test_a_driver_error_behind_ingress_is_the_gateways_not_the_channels() -> None:
    from gateway.app import channel_ingress
    from gateway.errors import StoreUnavailable

    class RestartingStore:
        async def ingress(self, envelope: Envelope, address: str) -> Any:
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

    ingress = channel_ingress(RestartingStore())  # type: ignore[arg-type]
    with pytest.raises(StoreUnavailable) as caught:
        await ingress(None, "")  # type: ignore[arg-type]
    assert connect_failure("Telegram Bot API", "api.telegram.org", 443, caught.value) is None
