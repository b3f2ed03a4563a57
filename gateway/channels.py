"""Which channel adapters a process runs, built from the validated configuration."""

from __future__ import annotations

import importlib
from typing import Any

from gateway.channel import ChannelAdapter
from gateway.config import Settings
from gateway.errors import ConfigError

# channel name -> (module, class)
ADAPTERS: dict[str, tuple[str, str]] = {
    "memory": ("bots.memory", "MemoryAdapter"),
    "webchat": ("bots.webchat", "WebchatAdapter"),
    "telegram": ("bots.telegram", "TelegramAdapter"),
    "xmpp": ("bots.xmpp", "XmppAdapter"),
    "email": ("bots.email", "EmailAdapter"),
}

ENABLED_BY_DEFAULT = {"webchat"}


def adapter_class(name: str) -> type[ChannelAdapter]:
    module_name, class_name = ADAPTERS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"channels.{name}", f"this installation has no {name} channel") from exc
    cls: type[ChannelAdapter] = getattr(module, class_name)
    return cls


def build_adapters(settings: Settings, extra: dict[str, Any] | None = None) -> list[ChannelAdapter]:
    """Construct every enabled adapter, validating its section against the adapter's schema."""
    adapters: list[ChannelAdapter] = []
    for name, section in settings.channels.items():
        enabled = section.get("enabled", name in ENABLED_BY_DEFAULT)
        if not isinstance(enabled, bool):
            raise ConfigError(f"channels.{name}.enabled", "must be true or false")
        if not enabled:
            continue
        if name == "webchat" and ADAPTERS["webchat"][0] not in _available():
            continue
        cls = adapter_class(name)
        given = {k: v for k, v in section.items() if k != "enabled"}
        if name == "webchat":
            # The top-level web chat and limits sections are the defaults of channels.webchat.
            limits = settings.section("limits")
            given = {
                **settings.section("webchat"),
                "max_message_chars": limits["max_message_chars"],
                "messages_per_minute": limits["messages_per_minute"],
                **given,
            }
        config = cls.validate_config(f"channels.{name}", given)
        adapters.append(cls(config, pseudonym_key=settings.pseudonym_key, **(extra or {}).get(name, {})))  # type: ignore[call-arg]
    return adapters


def _available() -> set[str]:
    found = set()
    for module_name, _ in ADAPTERS.values():
        try:
            if importlib.util.find_spec(module_name) is not None:
                found.add(module_name)
        except ModuleNotFoundError:
            continue
    return found
