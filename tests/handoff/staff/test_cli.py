"""``helpline users ...`` (issue 17, item 10): add, list, edit, disable, enable, reset-password,
reset-2fa, end-sessions, delete, as an operator runs them (``gateway.cli.main`` in this process,
on a store of the test's own)."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import pytest

from gateway import auth
from gateway.cli import main
from gateway.config import load_settings
from gateway.store.db import Database


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in [k for k in os.environ if k.startswith("HELPLINE_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HELPLINE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def listed(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    code, out, _ = run(capsys, monkeypatch, "users", "list")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == "user\trole\tstatus\t2fa\tmunicipality\tlast login"
    return {line.split("\t")[0]: line.split("\t")[1:] for line in lines[1:]}


PASSWORD = "a long password\n"


def test_add_checks_the_municipality_code_and_list_shows_the_accounts(
    cli: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(
        capsys,
        monkeypatch,
        "users",
        "add",
        "kim",
        "--role",
        "municipality",
        "--municipality",
        "9999",
        stdin=PASSWORD,
    )
    assert code == 1 and "'9999' is no SCB municipality code" in err and "Traceback" not in err
    code, out, _ = run(
        capsys,
        monkeypatch,
        "users",
        "add",
        "kim",
        "--role",
        "municipality",
        "--municipality",
        "1480",
        stdin=PASSWORD,
    )
    assert code == 0 and "created municipality 'kim'" in out
    code, out, _ = run(
        capsys,
        monkeypatch,
        "users",
        "add",
        "kh",
        "--role",
        "municipality",
        "--municipality",
        "kunskapshus-goteborg",
        stdin=PASSWORD,
    )
    assert code == 0
    assert run(capsys, monkeypatch, "users", "add", "sara", "--role", "supervisor", stdin=PASSWORD)[0] == 0
    accounts = listed(capsys, monkeypatch)
    assert accounts["kim"] == ["municipality", "enabled", "2fa off", "1480", "never"]
    assert accounts["kh"][3] == "kunskapshus-goteborg"
    assert accounts["sara"] == ["supervisor", "enabled", "2fa off", "-", "never"]


def test_edit_disable_enable_reset_and_delete(
    cli: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, monkeypatch, "users", "add", "cora", "--role", "counsellor", stdin=PASSWORD)[0] == 0
    code, out, _ = run(
        capsys, monkeypatch, "users", "edit", "cora", "--capacity", "5", "--display-name", "Cora C"
    )
    assert code == 0 and "capacity 3 -> 5" in out and "'Cora C'" in out
    code, _, err = run(
        capsys, monkeypatch, "users", "edit", "cora", "--role", "municipality", "--municipality", "0"
    )
    assert code == 1 and "'0' is no SCB municipality code" in err
    code, _, err = run(capsys, monkeypatch, "users", "edit", "nobody", "--capacity", "2")
    assert code == 1 and "no user 'nobody'" in err
    # The phone extension (handoff.phone): one account's only; "" removes it.
    code, out, _ = run(capsys, monkeypatch, "users", "edit", "cora", "--extension", "201")
    assert code == 0 and "extension None -> '201'" in out
    assert run(capsys, monkeypatch, "users", "add", "dan", "--role", "counsellor", stdin=PASSWORD)[0] == 0
    code, _, err = run(capsys, monkeypatch, "users", "edit", "dan", "--extension", "201")
    assert code == 1 and "extension 201 belongs to another account" in err
    code, out, _ = run(capsys, monkeypatch, "users", "edit", "cora", "--extension", "")
    assert code == 0 and "extension '201' -> None" in out

    # A session of cora's, ended by disabling her.
    settings = load_settings()

    async def sign_in(password: str) -> bool:
        db = Database(settings.database_url)
        try:
            async with db.session() as session:
                result = await auth.login(session, "cora", password, auth.LoginPolicy())
                return result.token is not None
        finally:
            await db.close()

    async def sessions() -> int:
        db = Database(settings.database_url)
        try:
            async with db.session() as session:
                return len(await auth.sessions_of(session, 1))
        finally:
            await db.close()

    assert asyncio.run(sign_in("a long password"))
    assert asyncio.run(sessions()) == 1
    code, out, _ = run(capsys, monkeypatch, "users", "disable", "cora")
    assert code == 0 and "disabled (1 session(s) ended)" in out
    assert asyncio.run(sessions()) == 0
    assert not asyncio.run(sign_in("a long password"))
    assert listed(capsys, monkeypatch)["cora"][:2] == ["counsellor", "disabled"]
    assert run(capsys, monkeypatch, "users", "enable", "cora")[0] == 0
    assert asyncio.run(sign_in("a long password"))
    code, out, _ = run(
        capsys,
        monkeypatch,
        "users",
        "reset-password",
        "cora",
        "--password-stdin",
        stdin="another long secret\n",
    )
    assert code == 0 and "password reset" in out
    assert not asyncio.run(sign_in("a long password")) and asyncio.run(sign_in("another long secret"))
    assert listed(capsys, monkeypatch)["cora"][4] != "never"  # last login
    code, out, _ = run(capsys, monkeypatch, "users", "end-sessions", "cora")
    assert code == 0 and asyncio.run(sessions()) == 0
    assert run(capsys, monkeypatch, "users", "reset-2fa", "cora")[0] == 0
    code, out, _ = run(capsys, monkeypatch, "users", "delete", "cora")
    assert code == 0 and "deleted" in out
    assert "cora" not in listed(capsys, monkeypatch)


def test_edit_sets_the_languages_an_account_speaks(
    cli: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, monkeypatch, "users", "add", "amal", "--role", "counsellor", stdin=PASSWORD)[0] == 0
    code, out, _ = run(capsys, monkeypatch, "users", "edit", "amal", "--languages", "sv,ar, so")
    assert code == 0 and "spoken_languages ['sv', 'en'] -> ['sv', 'ar', 'so']" in out
    code, _, err = run(capsys, monkeypatch, "users", "edit", "amal", "--languages", "sv,klingon")
    assert code == 1 and "unknown language klingon" in err
