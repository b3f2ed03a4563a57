"""``helpline users ...``: staff accounts from the command line, beside the admin page.

    helpline users add NAME --role trainee|counsellor|supervisor|admin|municipality [--municipality CODE]
    helpline users list
    helpline users edit NAME [--role R] [--display-name N] [--capacity C] [--municipality CODE] [--language sv|en]
                       [--languages sv,en,ar] [--extension EXT]
    helpline users disable NAME | enable NAME | delete NAME
    helpline users reset-password NAME [--password-stdin]
    helpline users reset-2fa NAME | end-sessions NAME

Every change is audited as the system (no staff member is signed in); a municipality code is
checked against the directory with the admins' edits, as the gateways use it.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from gateway import auth
from gateway.config import Settings, load_settings
from gateway.errors import HelplineError
from gateway.store.db import Database
from gateway.store.models import Role
from handoff.directory.catalog import Directory
from handoff.directory.service import stored_directory

from . import service

T = TypeVar("T")


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(getattr(args, "config", None))
    auth.configure_hashing(auth.HashCost.from_settings(settings))
    return settings


def read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    second = getpass.getpass("Repeat password: ")
    if first != second:
        raise HelplineError("the passwords differ")
    return first


def _run(args: argparse.Namespace, work: Callable[[AsyncSession, Directory], Awaitable[T]]) -> T:
    async def run() -> T:
        db = Database(_settings(args).database_url)
        try:
            await db.upgrade()
            directory = await stored_directory(db)
            async with db.session() as session:
                return await work(session, directory)
        finally:
            await db.close()

    return asyncio.run(run())


def cmd_add(args: argparse.Namespace) -> int:
    password = read_password(args.password_stdin)

    async def work(session: AsyncSession, directory: Directory) -> str:
        user = await service.create(
            session,
            directory,
            args.name,
            password,
            args.role,
            display_name=args.display_name or "",
            capacity=args.capacity
            if args.capacity is not None
            else _settings(args).raw["console"]["default_capacity"],
            municipality_code=args.municipality,
        )
        return f"created {user.role} {user.username!r}"

    print(_run(args, work))
    return 0


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "never"


def cmd_list(args: argparse.Namespace) -> int:
    async def work(session: AsyncSession, directory: Directory) -> list[str]:
        lines = ["user\trole\tstatus\t2fa\tmunicipality\tlast login"]
        for user in await auth.list_users(session):
            lines.append(
                "\t".join(
                    (
                        user.username,
                        user.role,
                        "enabled" if user.active else "disabled",
                        "2fa on" if user.totp_enabled_at is not None else "2fa off",
                        user.municipality_code or "-",
                        _when(user.last_login_at),
                    )
                )
            )
        return lines

    print("\n".join(_run(args, work)))
    return 0


def _languages(value: str | None) -> list[str] | None:
    """``--languages sv,en,ar``: the codes, or None when not given."""
    return None if value is None else [v for v in value.replace(" ", ",").split(",") if v]


def cmd_edit(args: argparse.Namespace) -> int:
    changes = service.Changes(
        role=args.role,
        display_name=args.display_name,
        capacity=args.capacity,
        municipality_code=args.municipality,
        language=args.language,
        spoken_languages=_languages(args.languages),
        extension=args.extension,
    )

    async def work(session: AsyncSession, directory: Directory) -> str:
        user = await service.by_name(session, args.name)
        changed = await service.edit(session, directory, user, changes, None)
        if not changed:
            return f"{user.username!r}: nothing to change"
        said = ", ".join(f"{k} {v['before']!r} -> {v['after']!r}" for k, v in changed.items())
        return f"{user.username!r}: {said}"

    print(_run(args, work))
    return 0


Action = Callable[[AsyncSession, Any, Any], Awaitable[Any]]


def _simple(action: Action, done: str) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        async def work(session: AsyncSession, directory: Directory) -> str:
            user = await service.by_name(session, args.name)
            ended = await action(session, user, None)
            sessions = f" ({len(ended)} session(s) ended)" if isinstance(ended, list) and ended else ""
            return f"{user.username!r}: {done}{sessions}"

        print(_run(args, work))
        return 0

    return command


def cmd_reset_password(args: argparse.Namespace) -> int:
    password = read_password(args.password_stdin)

    async def reset(session: AsyncSession, user: Any, actor: Any) -> list[str]:
        return await service.reset_password(session, user, password, actor)

    return _simple(reset, "password reset")(args)


def register_users(sub: Any) -> None:
    """The ``users`` command and its subcommands, under the ``helpline`` parser's ``sub``."""
    users = sub.add_parser("users", help="staff accounts").add_subparsers(dest="users_command", required=True)
    roles = [r.value for r in Role]

    def command(
        name: str, help_text: str, func: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = users.add_parser(name, help=help_text)
        parser.add_argument("--config", default=argparse.SUPPRESS)
        parser.set_defaults(func=func)
        return parser

    add = command("add", "create a staff account (password from the terminal or stdin)", cmd_add)
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=roles)
    add.add_argument("--display-name")
    add.add_argument(
        "--capacity",
        type=int,
        help="conversations held at once (counsellors; default console.default_capacity)",
    )
    add.add_argument("--municipality", help="SCB code or Kunskapshus id, for the municipality role")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    command("list", "list staff accounts: role, status, 2fa, municipality, last login", cmd_list)
    edit = command(
        "edit",
        "change an account's role, display name, capacity, municipality, language or spoken languages",
        cmd_edit,
    )
    edit.add_argument("name")
    edit.add_argument("--role", choices=roles)
    edit.add_argument("--display-name")
    edit.add_argument("--capacity", type=int)
    edit.add_argument("--municipality", help="SCB code or Kunskapshus id, for the municipality role")
    edit.add_argument("--language", choices=service.LANGUAGES)
    edit.add_argument(
        "--languages",
        help="the languages the holder speaks with a person, comma-separated (e.g. sv,en,ar)",
    )
    edit.add_argument(
        "--extension", help='phone extension: calls answered there open on this console ("" removes it)'
    )
    for name, help_text, func in (
        ("disable", "disable an account and end its sessions", _simple(service.disable, "disabled")),
        ("enable", "enable a disabled account", _simple(service.enable, "enabled")),
        ("delete", "delete an account that left no records", _simple(service.delete, "deleted")),
        ("reset-2fa", "remove an account's second factor", _simple(service.reset_second_factor, "2fa reset")),
        ("end-sessions", "end all of an account's sessions", _simple(service.end_sessions, "sessions ended")),
    ):
        command(name, help_text, func).add_argument("name")
    reset = command(
        "reset-password", "set a new password (terminal or stdin); ends the sessions", cmd_reset_password
    )
    reset.add_argument("name")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from stdin")


__all__ = ["register_users"]
