from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest

from gateway.config import load_settings, new_key
from gateway.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "helpline.yml"
    path.write_text(text)
    return path


def test_defaults_are_the_embedded_store_and_in_process_broker(tmp_path: Path) -> None:
    s = load_settings(environ={"HELPLINE_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite+aiosqlite:///{(tmp_path / 'helpline.db').resolve()}"
    assert s.redis_url is None
    assert (s.host, s.port) == ("127.0.0.1", 8080)


def test_generated_keys_are_kept_private_and_reused(tmp_path: Path) -> None:
    first = load_settings(environ={"HELPLINE_DATA_DIR": str(tmp_path)})
    second = load_settings(environ={"HELPLINE_DATA_DIR": str(tmp_path)})
    assert first.pseudonym_key == second.pseudonym_key and len(first.pseudonym_key) == 32
    assert first.contact_key != first.pseudonym_key
    mode = (tmp_path / "secrets.json").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert set(json.loads((tmp_path / "secrets.json").read_text())) == {"pseudonym_key", "contact_key"}


def boot_together(data: Path, count: int) -> tuple[list[bytes], list[BaseException]]:
    """``count`` threads load the settings on ``data`` at the same instant."""
    start = threading.Barrier(count)
    got: list[bytes] = []
    errors: list[BaseException] = []

    def boot() -> None:
        start.wait()
        try:
            got.append(load_settings(environ={"HELPLINE_DATA_DIR": str(data)}).contact_key)
        except BaseException as exc:  # collected: the test names what failed
            errors.append(exc)

    threads = [threading.Thread(target=boot) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return got, errors


def test_processes_starting_together_on_one_data_directory_get_the_same_keys(tmp_path: Path) -> None:
    # A fleet's first start: each loser of the race must read the winner's keys, never a
    # half-written file, never a crash on the file existing.
    for round_ in range(10):
        data = tmp_path / str(round_)
        got, errors = boot_together(data, 8)
        assert not errors, errors
        assert len(set(got)) == 1 and len(got) == 8
        assert [p.name for p in data.iterdir() if p.name.startswith(".secrets")] == []


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: 9000\ndatabase_url: postgresql://u@h/db\n")
    s = load_settings(
        path,
        environ={
            "HELPLINE_PORT": "9100",
            "HELPLINE_REDIS_URL": "redis://127.0.0.1:6379/0",
            "HELPLINE_DATA_DIR": str(tmp_path),
            "HELPLINE_CHANNELS__TELEGRAM__TOKEN": "abc",
        },
    )
    assert s.port == 9100
    assert s.database_url == "postgresql+asyncpg://u@h/db"
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.channels["telegram"]["token"] == "abc"


@pytest.mark.parametrize(
    ("text", "env", "key"),
    [
        ("server:\n  prot: 1\n", {}, "server.prot"),
        ("server:\n  port: eighty\n", {}, "server.port"),
        ("server:\n  port: 0\n", {}, "server.port"),
        ("server:\n  event_loop: trio\n", {}, "server.event_loop"),
        ("nlu:\n  backend: rasa\n", {}, "nlu.rasa_url"),
        ("nlu:\n  backend: magic\n", {}, "nlu.backend"),
        # An unknown channel is named when the adapters are built (tests/gateway/test_channels.py).
        ("channels:\n  pigeon: 5\n", {}, "channels.pigeon"),
        ("database_url: mysql://x/y\n", {}, "database_url"),
        ("database:\n  transactions: 0\n", {}, "database.transactions"),
        ("secrets:\n  contact_key: short\n", {}, "secrets.contact_key"),
        ("", {"HELPLINE_PORT": "x"}, "server.port"),
        ("", {"HELPLINE_BOGUS": "1"}, "HELPLINE_BOGUS"),
        ("- a list\n", {}, "--config"),
        ("server: [\n", {}, "--config"),
    ],
)
def test_a_bad_key_stops_the_start_with_its_name(
    tmp_path: Path, text: str, env: dict[str, str], key: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={"HELPLINE_DATA_DIR": str(tmp_path), **env})
    assert err.value.key == key
    assert key in str(err.value)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "nope.yml", environ={})


def test_configured_keys_are_used(tmp_path: Path) -> None:
    key = new_key()
    s = load_settings(
        environ={
            "HELPLINE_PSEUDONYM_KEY": key,
            "HELPLINE_CONTACT_KEY": key,
            "HELPLINE_DATA_DIR": str(tmp_path),
        }
    )
    assert not (tmp_path / "secrets.json").exists()
    assert len(s.contact_key) == 32
