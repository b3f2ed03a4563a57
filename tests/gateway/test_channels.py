"""Adding a channel is one module plus its configuration schema (docs/architecture.md, "Adding a
channel"): the loopback channel of ``loopback_channel.py``, defined here in the tests and not in the
gateway's packages, registers itself, has its section validated and carries a person's message
through the real pipeline and the safe response back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.app import CHANNEL_MODULES, create_app
from gateway.appkeys import ADAPTERS
from gateway.channel import ChannelAdapter, register_channel, registered_channel
from gateway.errors import ConfigError
from tests.gateway.loopback_channel import LoopbackAdapter
from tests.harness import KeywordTriager, make_settings, running


def loopback_settings(db_url: str, tmp_path: Path, section: dict[str, object]):  # type: ignore[no-untyped-def]
    return make_settings(db_url, tmp_path, channels={"loopback": section, "webchat": {"enabled": False}})


def test_the_channel_registered_itself() -> None:
    assert "loopback" not in CHANNEL_MODULES
    assert registered_channel("loopback") is LoopbackAdapter


def test_a_second_channel_of_the_same_name_is_refused() -> None:
    class Impostor(LoopbackAdapter):
        pass

    with pytest.raises(ValueError, match="'loopback' is registered already"):
        register_channel(Impostor)
    assert registered_channel("loopback") is LoopbackAdapter


@pytest.mark.parametrize(
    ("section", "key", "problem"),
    [
        ({"enabled": True, "station": "a", "statoin": "b"}, "channels.loopback.statoin", "unknown key"),
        ({"enabled": True}, "channels.loopback.station", "is required"),
        (
            {"enabled": True, "station": "a", "max_chars": "many"},
            "channels.loopback.max_chars",
            "must be int",
        ),
        ({"enabled": "yes", "station": "a"}, "channels.loopback.enabled", "must be true or false"),
    ],
)
def test_its_section_is_validated_naming_the_bad_key(
    db_url: str, tmp_path: Path, section: dict[str, object], key: str, problem: str
) -> None:
    settings = loopback_settings(db_url, tmp_path, section)
    with pytest.raises(ConfigError) as caught:
        create_app(settings, triager=KeywordTriager())
    assert caught.value.key == key
    assert problem in caught.value.problem


def test_an_unknown_channel_is_named(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, tmp_path, channels={"pigeon": {"enabled": True}})
    with pytest.raises(ConfigError) as caught:
        create_app(settings, triager=KeywordTriager())
    assert caught.value.key == "channels.pigeon"
    assert "unknown channel" in caught.value.problem and "loopback" in caught.value.problem


async def test_a_message_goes_through_the_pipeline_and_the_safe_response_comes_back(
    db_url: str, tmp_path: Path
) -> None:
    settings = loopback_settings(db_url, tmp_path, {"enabled": True, "station": "north", "max_chars": 99})
    async with running(settings) as gw:  # adapters from the configuration
        app, client = gw.app, gw.client
        adapters: dict[str, ChannelAdapter] = app[ADAPTERS]
        assert list(adapters) == ["loopback"]
        adapter = adapters["loopback"]
        assert isinstance(adapter, LoopbackAdapter)
        assert adapter.config == {"station": "north", "max_chars": 99}

        result = await adapter.person_writes("person-1", "hej, jag är orolig för min bror")
        assert not result.duplicate and result.state == "queued"

        envelope, address = await asyncio.wait_for(adapter.sent.get(), timeout=10)
        assert address == "person-1"
        assert envelope.text == "SAFE:concern_relative"
        assert envelope.conversation_id == result.conversation_id
        assert envelope.channel == "loopback"

        health = await (await client.get("/healthz")).json()
        assert health["channels"]["loopback"]["state"] == "connected"
