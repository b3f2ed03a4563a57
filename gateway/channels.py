"""Which channel adapters a process runs, built from the validated configuration.

Every channel registers its adapter (:func:`gateway.channel.register_channel`) in its own module,
with its configuration schema; this module knows no channel by name.  ``modules`` (from the
composition root, ``gateway.app``) says which module holds which channel, so that only the
modules of enabled channels are imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Mapping
from typing import Any

from gateway.channel import ChannelAdapter, registered_channel, registered_channels
from gateway.config import Settings
from gateway.errors import ConfigError


def adapter_class(name: str, modules: Mapping[str, str]) -> type[ChannelAdapter]:
    """The adapter of channel ``name``: registered already, or registered by importing its module."""
    cls = registered_channel(name)
    if cls is not None:
        return cls
    module_name = modules.get(name)
    if module_name is None:
        known = ", ".join(sorted(set(modules) | set(registered_channels())))
        raise ConfigError(f"channels.{name}", f"unknown channel (known: {known})")
    try:
        importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"channels.{name}", f"this installation has no {name} channel") from exc
    cls = registered_channel(name)
    if cls is None:
        raise ConfigError(f"channels.{name}", f"{module_name} registers no channel {name!r}")
    return cls


def build_adapters(
    settings: Settings,
    modules: Mapping[str, str],
    default_on: Collection[str] = (),
    extra: dict[str, Any] | None = None,
) -> list[ChannelAdapter]:
    """Construct every enabled adapter, validating its section against the adapter's schema.

    A channel in ``default_on`` runs without a section of its own (unless ``enabled: false``), if
    this installation has its module."""
    sections = dict(settings.channels)
    for name in default_on:
        sections.setdefault(name, {})
    for name in sections:
        if registered_channel(name) is None and name not in modules:
            adapter_class(name, modules)  # raises: unknown channel
    adapters: list[ChannelAdapter] = []
    for name, section in sections.items():
        enabled = section.get("enabled", name in default_on)
        if not isinstance(enabled, bool):
            raise ConfigError(f"channels.{name}.enabled", "must be true or false")
        if not enabled:
            continue
        if name in default_on and not _available(name, modules):
            continue
        cls = adapter_class(name, modules)
        given = {k: v for k, v in section.items() if k != "enabled"}
        given = {**cls.section_defaults(settings.raw), **given}
        config = cls.validate_config(f"channels.{name}", given)
        adapters.append(cls(config, pseudonym_key=settings.pseudonym_key, **(extra or {}).get(name, {})))  # type: ignore[call-arg]
    return adapters


def _available(name: str, modules: Mapping[str, str]) -> bool:
    if registered_channel(name) is not None:
        return True
    module_name = modules.get(name)
    if module_name is None:
        return False
    try:
        return importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:
        return False
