"""The SMS adapter's keywords and its configuration checks."""

from __future__ import annotations

from typing import Any

import pytest

from bots.sms.adapter import SmsAdapter, keyword
from gateway.errors import ConfigError

KEY = b"k" * 32
BASE: dict[str, Any] = {
    "send_url": "https://api.46elks.com/a1/sms",
    "sender": "+46766861004",
    "webhook_username": "elks",
    "webhook_password": "pw",
    "send_username": "u1",
    "send_password": "p1",
}


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("STOPP", ("stop", "sv")),
        ("  stopp\n", ("stop", "sv")),
        ("Stop", ("stop", "en")),
        ("hjälp", ("help", "sv")),
        ("HJALP", ("help", "sv")),
        ("help ", ("help", "en")),
        ("مساعدة", ("help", "ar")),
        ("yardım", ("help", "tr")),
        ("Помощь", ("help", "ru")),
        ("pomoc", ("help", "bs")),
        ("stopp nu", None),
        ("jag vill ha hjälp", None),
        ("", None),
    ],
)
def test_keywords_are_the_whole_text_in_any_case(text: str, found: tuple[str, str] | None) -> None:
    assert keyword(text) == found


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"send_url": None}, "channels.sms.send_url"),
        ({"sender": 46}, "channels.sms.sender"),
        ({"split": "sometimes"}, "channels.sms.split"),
        ({"send_auth": "digest"}, "channels.sms.send_auth"),
        ({"webhook_password": ""}, "channels.sms.webhook_password"),
        ({"webhook_auth": "hmac", "webhook_secret": "short"}, "channels.sms.webhook_secret"),
        ({"send_fields": ["to"]}, "channels.sms.send_fields"),
        ({"unknown": 1}, "channels.sms.unknown"),
        ({"send_password": ""}, "channels.sms.send_password"),
        ({"send_auth": "bearer"}, "channels.sms.send_token"),
    ],
)
def test_configuration_mistakes_name_the_key(change: dict[str, Any], key: str) -> None:
    config = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    with pytest.raises(ConfigError) as raised:
        SmsAdapter(config, KEY)
    assert key in str(raised.value)


def test_the_sections_field_names_add_to_the_defaults() -> None:
    adapter = SmsAdapter({**BASE, "inbound_fields": {"text": "Body"}, "send_fields": {"text": "Body"}}, KEY)
    assert adapter.inbound_fields["text"] == "Body" and adapter.inbound_fields["from"] == "from"
    assert adapter.api.fields["text"] == "Body" and adapter.api.fields["to"] == "to"
    assert adapter.routes()
