"""``helpline keys check`` and ``helpline keys rotate contact|pseudonym`` (see :mod:`gateway.keys`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
from typing import Any

from gateway.config import Settings, decode_key, load_settings
from gateway.keys import check_keys, rotate_contact_key, rotate_pseudonym_key
from gateway.store.db import Database


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))


def cmd_check(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def run() -> None:
        db = Database(settings.database_url)
        try:
            await db.upgrade()
            await check_keys(db, settings)
        finally:
            await db.close()

    asyncio.run(run())
    print("the keys are those of this database")
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    new = decode_key("--new-key", args.new_key) if args.new_key else secrets.token_bytes(32)

    async def run() -> Any:
        db = Database(settings.database_url)
        try:
            await db.upgrade()
            rotate = rotate_contact_key if args.key_name == "contact" else rotate_pseudonym_key
            return await rotate(db, settings, new)
        finally:
            await db.close()

    rotation = asyncio.run(run())
    name = args.key_name
    if name == "contact":
        print(f"re-encrypted {rotation.records} contact records with the new contact key")
    else:
        print("recorded the new pseudonym key; open conversations move to it with their next message")
    if settings.secrets_from_file:
        path = settings.data_dir / "secrets.json"
        stored = json.loads(path.read_text())
        previous = [rotation.old_key, *stored.get(f"previous_{name}_keys", [])]
        stored.update({f"{name}_key": rotation.new_key, f"previous_{name}_keys": previous})
        tmp = path.with_name("secrets.json.new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh)
        os.replace(tmp, path)
        print(f"{path} holds the new key; restart the gateway")
    else:
        print(
            f"give every process  secrets.{name}_key: {rotation.new_key}\n"
            f"and add the old key to secrets.previous_{name}_keys, then restart them one by one "
            "(the old key still decrypts and recognises what they write meanwhile)"
        )
    return 0


def register(sub: Any) -> None:
    keys = sub.add_parser("keys", help="the secret keys").add_subparsers(dest="keys_command", required=True)
    check = keys.add_parser("check", help="check this configuration's keys against the database")
    check.add_argument("--config", default=argparse.SUPPRESS)
    check.set_defaults(func=cmd_check)
    rotate = keys.add_parser("rotate", help="rotate a key").add_subparsers(dest="key_name", required=True)
    contact = rotate.add_parser("contact", help="new contact key; every contact record re-encrypted")
    contact.add_argument("--new-key", help="url-safe base64 of 32 bytes (default: generated)")
    contact.add_argument("--config", default=argparse.SUPPRESS)
    contact.set_defaults(func=cmd_rotate)
    pseudonym = rotate.add_parser("pseudonym", help="new pseudonym key; the old one still recognises people")
    pseudonym.add_argument("--new-key", help="url-safe base64 of 32 bytes (default: generated)")
    pseudonym.add_argument("--config", default=argparse.SUPPRESS)
    pseudonym.set_defaults(func=cmd_rotate)
