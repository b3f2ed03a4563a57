"""Configuration: a YAML file, then ``HELPLINE_*`` environment variables, validated at start.

Every problem raises :class:`~gateway.errors.ConfigError` naming the key, e.g.
``configuration key 'server.port': must be int, got str``.

Environment variables: ``HELPLINE_DATABASE_URL``, ``HELPLINE_REDIS_URL``, ``HELPLINE_DATA_DIR``,
``HELPLINE_PSEUDONYM_KEY``, ``HELPLINE_CONTACT_KEY``, and any key by its path with ``__`` between
levels, e.g. ``HELPLINE_SERVER__PORT=8081`` or ``HELPLINE_CHANNELS__TELEGRAM__TOKEN=...``.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.config_checks import check_console, check_password_cost
from gateway.config_schema import ANY_MAPPING, REQUIRED, SCHEMA
from gateway.errors import ConfigError
from gateway.private_files import private_dir

# The schema (key -> (type, default, description)) lives in gateway.config_schema.

ENV_SHORTCUTS = {
    "HELPLINE_DATABASE_URL": ("database_url",),
    "HELPLINE_REDIS_URL": ("redis_url",),
    "HELPLINE_REDIS_PREFIX": ("redis_prefix",),
    "HELPLINE_DATA_DIR": ("data_dir",),
    "HELPLINE_PSEUDONYM_KEY": ("secrets", "pseudonym_key"),
    "HELPLINE_CONTACT_KEY": ("secrets", "contact_key"),
    "HELPLINE_HOST": ("server", "host"),
    "HELPLINE_PORT": ("server", "port"),
    "HELPLINE_METRICS_TOKEN": ("metrics", "token"),
    "HELPLINE_LOG_FORMAT": ("logging", "format"),
    "HELPLINE_PHONE_SECRET": ("phone", "events_secret"),
}


EVENT_LOOPS = ("uvloop", "asyncio")


@dataclass(frozen=True)
class Settings:
    """Validated configuration.  ``raw`` keeps the whole validated tree."""

    raw: dict[str, Any]
    database_url: str
    redis_url: str | None
    redis_prefix: str
    data_dir: Path
    pseudonym_key: bytes
    contact_key: bytes
    host: str
    port: int
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    previous_contact_keys: tuple[bytes, ...] = ()
    previous_pseudonym_keys: tuple[bytes, ...] = ()
    secrets_from_file: bool = False
    """True when the keys are the generated ones in ``data_dir/secrets.json`` (not configured)."""

    def section(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name, {})
        return dict(value) if isinstance(value, dict) else {}


def _coerce(key: str, typ: type, value: Any, from_env: bool) -> Any:
    if from_env and isinstance(value, str):
        try:
            if typ is bool:
                low = value.strip().lower()
                if low in {"1", "true", "yes", "on"}:
                    return True
                if low in {"0", "false", "no", "off"}:
                    return False
                raise ValueError(value)
            if typ is int:
                return int(value)
            if typ is float:
                return float(value)
            if typ is list:
                return json.loads(value) if value.startswith("[") else [v for v in value.split(",") if v]
        except ValueError:
            raise ConfigError(key, f"must be {typ.__name__}, got {value!r}") from None
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, typ) or (typ in (int, float) and isinstance(value, bool)):
        raise ConfigError(key, f"must be {typ.__name__}, got {type(value).__name__}")
    return value


def _validate(
    schema: Mapping[str, Any], data: Mapping[str, Any], prefix: str, env_keys: set[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in data:
        if key not in schema:
            raise ConfigError(f"{prefix}{key}", "unknown key")
    for key, spec in schema.items():
        path = f"{prefix}{key}"
        if isinstance(spec, dict):
            sub = data.get(key, {})
            if sub is None:
                sub = {}
            if not isinstance(sub, Mapping):
                raise ConfigError(path, "must be a mapping")
            out[key] = _validate(spec, sub, f"{path}.", env_keys)
            continue
        typ, default = spec[0], spec[1]
        if typ == ANY_MAPPING:
            value = data.get(key, default)
            if value is None:
                value = {}
            if not isinstance(value, Mapping):
                raise ConfigError(path, "must be a mapping")
            out[key] = copy.deepcopy(dict(value))
            continue
        if key not in data or data[key] is None:
            if default is REQUIRED:
                raise ConfigError(path, "is required")
            out[key] = copy.deepcopy(default)
            continue
        out[key] = _coerce(path, typ, data[key], path in env_keys)
    return out


def _set_path(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


def _env_overrides(environ: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    found: dict[tuple[str, ...], str] = {}
    for name, value in environ.items():
        if not name.startswith("HELPLINE_") or name.startswith("HELPLINE_TEST_"):
            continue
        if name in ENV_SHORTCUTS:
            found[ENV_SHORTCUTS[name]] = value
        elif "__" in name:
            found[tuple(p.lower() for p in name[len("HELPLINE_") :].split("__"))] = value
        elif name == "HELPLINE_CONFIG":
            continue
        else:
            raise ConfigError(
                name, "unknown environment variable (nested keys use '__', e.g. HELPLINE_SERVER__PORT)"
            )
    return found


def _decode_key(key: str, value: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value.encode() + b"=" * (-len(value) % 4))
    except (ValueError, TypeError):
        raise ConfigError(key, "must be url-safe base64") from None
    if len(raw) != 32:
        raise ConfigError(key, f"must decode to 32 bytes, got {len(raw)}")
    return raw


decode_key = _decode_key
"""A url-safe base64 key of 32 bytes; ConfigError naming ``key`` otherwise."""


def new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _load_or_create_secrets(data_dir: Path) -> dict[str, Any]:
    """The embedded default keeps generated keys in ``data_dir/secrets.json`` (mode 0600).

    Processes started together on one data directory must end up with the same keys: the file is
    written whole under a private name and linked into place, which fails if another process got
    there first; then that process's keys are read.  A reader never sees a half-written file."""
    path = data_dir / "secrets.json"
    if path.exists():
        stored = json.loads(path.read_text())
        if isinstance(stored, dict):
            return dict(stored)
    private_dir(data_dir)
    generated = {"pseudonym_key": new_key(), "contact_key": new_key()}
    draft = data_dir / f".secrets.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(generated, fh)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            return _load_or_create_secrets(data_dir)
    finally:
        draft.unlink(missing_ok=True)
    return generated


def load_settings(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read, merge and validate the configuration.  Raises ConfigError naming the bad key."""
    environ = os.environ if environ is None else environ
    path = path or environ.get("HELPLINE_CONFIG") or None
    tree: dict[str, Any] = {}
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError("--config", f"cannot read {path}: {exc.strerror}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError("--config", f"{path} is not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError("--config", f"{path} must hold a mapping at the top")
        tree = loaded
    env_keys: set[str] = set()
    for key_path, value in _env_overrides(environ).items():
        _set_path(tree, key_path, value)
        env_keys.add(".".join(key_path))
    for dotted, value in (overrides or {}).items():
        _set_path(tree, tuple(dotted.split(".")), value)
    raw = _validate(SCHEMA, tree, "", env_keys)

    # Each channel's section is checked against its adapter's schema when the adapters are built
    # (gateway.channels): the channels are not known here.
    channels: dict[str, dict[str, Any]] = {}
    for name, section in raw["channels"].items():
        if section is None:
            section = {}
        if not isinstance(section, dict):
            raise ConfigError(f"channels.{name}", "must be a mapping")
        channels[name] = section

    data_dir = Path(raw["data_dir"]).expanduser()
    database_url = raw["database_url"] or f"sqlite+aiosqlite:///{(data_dir / 'helpline.db').resolve()}"
    if database_url.startswith("postgresql://") or database_url.startswith("postgres://"):
        database_url = "postgresql+asyncpg://" + database_url.split("://", 1)[1]
    if not (
        database_url.startswith("sqlite+aiosqlite://") or database_url.startswith("postgresql+asyncpg://")
    ):
        raise ConfigError("database_url", "must be a sqlite:// or postgresql:// URL")
    if database_url.startswith("sqlite+aiosqlite:///"):
        private_dir(Path(database_url.split(":///", 1)[1]).parent)

    keys = dict(raw["secrets"])
    from_file = not keys["pseudonym_key"] or not keys["contact_key"]
    if from_file:
        generated = _load_or_create_secrets(data_dir)
        keys = {k: keys[k] or str(generated[k]) for k in ("pseudonym_key", "contact_key")} | {
            k: keys[k] or list(generated.get(k, []))
            for k in ("previous_contact_keys", "previous_pseudonym_keys")
        }
    pseudonym_key = _decode_key("secrets.pseudonym_key", keys["pseudonym_key"])
    contact_key = _decode_key("secrets.contact_key", keys["contact_key"])
    previous_contact_keys, previous_pseudonym_keys = (
        tuple(_decode_key(f"secrets.{name}[{i}]", str(k)) for i, k in enumerate(keys[name]))
        for name in ("previous_contact_keys", "previous_pseudonym_keys")
    )
    if raw["nlu"]["backend"] not in ("embedded", "rasa"):
        raise ConfigError("nlu.backend", "must be 'embedded' or 'rasa'")
    if raw["nlu"]["backend"] == "rasa" and not raw["nlu"]["rasa_url"]:
        raise ConfigError("nlu.rasa_url", "is required when nlu.backend is 'rasa'")
    if not 0 < raw["server"]["port"] < 65536:
        raise ConfigError("server.port", "must be between 1 and 65535")
    if raw["server"]["event_loop"] not in EVENT_LOOPS:
        raise ConfigError("server.event_loop", "must be 'uvloop' or 'asyncio'")
    if raw["limits"]["max_message_chars"] < 1:
        raise ConfigError("limits.max_message_chars", "must be positive")
    if not raw["console"]["secure_cookies"] and not raw["development"]:
        raise ConfigError(
            "console.secure_cookies",
            "may be false only with development: true (helpline serve --dev), for plain http on one's own machine",
        )
    check_console(raw["console"], SCHEMA["console"]["wait_targets"][1])
    check_password_cost(raw["console"], bool(raw["development"]))
    for key in ("max_sockets", "hello_timeout_seconds", "heartbeat_seconds"):
        if raw["webchat"][key] <= 0:
            raise ConfigError(f"webchat.{key}", "must be positive")
    if raw["database"]["pool_size"] < 1:
        raise ConfigError("database.pool_size", "must be positive")
    if raw["database"]["transactions"] < 1:
        raise ConfigError("database.transactions", "must be positive")
    if raw["database"]["max_overflow"] < 0:
        raise ConfigError("database.max_overflow", "must not be negative")
    if raw["database"]["processes"] < 1:
        raise ConfigError("database.processes", "must be positive")
    if raw["logging"]["format"] not in ("plain", "json"):
        raise ConfigError("logging.format", "must be 'plain' or 'json'")
    if raw["logging"]["level"].upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError("logging.level", "must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    if not 0 <= raw["metrics"]["port"] < 65536:
        raise ConfigError("metrics.port", "must be between 0 (none) and 65535")

    return Settings(
        raw=raw,
        database_url=database_url,
        redis_url=raw["redis_url"] or None,
        redis_prefix=raw["redis_prefix"],
        data_dir=data_dir,
        pseudonym_key=pseudonym_key,
        contact_key=contact_key,
        host=raw["server"]["host"],
        port=raw["server"]["port"],
        channels=channels,
        previous_contact_keys=previous_contact_keys,
        previous_pseudonym_keys=previous_pseudonym_keys,
        secrets_from_file=from_file,
    )
