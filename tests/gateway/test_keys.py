"""Keys that differ between processes are refused at start; the contact key rotates on command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway import twofactor
from gateway.config import new_key
from gateway.crypto import ContactCipher
from gateway.errors import ConfigError, StoreError
from gateway.store.db import Database
from gateway.store.models import ContactRecord, StaffUser
from tests.harness import AUTHENTICATOR, Running, make_settings, running, start


async def _start(db_url: str, tmp_path: Path, **keys: str) -> Running:
    settings = make_settings(db_url, tmp_path, **{f"secrets.{k}": v for k, v in keys.items()})
    return await start(settings, memory=True)


async def test_a_process_with_another_key_refuses_to_start_and_names_it(db_url: str, tmp_path: Path) -> None:
    pseudonym, contact = new_key(), new_key()
    first = await _start(db_url, tmp_path / "a", pseudonym_key=pseudonym, contact_key=contact)
    try:
        same = await _start(db_url, tmp_path / "b", pseudonym_key=pseudonym, contact_key=contact)
        await same.close()
        with pytest.raises(ConfigError, match=r"secrets\.contact_key.*differs"):
            await _start(db_url, tmp_path / "c", pseudonym_key=pseudonym, contact_key=new_key())
        with pytest.raises(ConfigError, match=r"secrets\.pseudonym_key.*differs"):
            await _start(db_url, tmp_path / "d", pseudonym_key=new_key(), contact_key=contact)
    finally:
        await first.close()


def _helpline(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


async def test_rotating_the_contact_key_keeps_every_contact_readable(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    env = {**clean, "HELPLINE_DATA_DIR": str(tmp_path / "data")}
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'helpline.db'}"
    before = make_settings(db_url, tmp_path)
    async with running(before, memory=True) as gw:
        await gw.memory.person_writes("anna@example.org", "hej, jag behöver prata med någon")
        await gw.signed_in("sara", "supervisor")  # enrols a second factor: a TOTP key, encrypted
        totp_key = AUTHENTICATOR.secrets[(gw.base, "sara")]

    rotated = _helpline("keys", "rotate", "contact", env=env)
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted 1 contact records" in rotated.stdout
    stored = json.loads((tmp_path / "data" / "secrets.json").read_text())
    after = make_settings(db_url, tmp_path)
    assert after.contact_key != before.contact_key and after.previous_contact_keys == (before.contact_key,)

    db = Database(db_url)
    try:
        async with db.session() as s:
            token = (await s.execute(select(ContactRecord.ciphertext))).scalar_one()
    finally:
        await db.close()
    # Re-encrypted: the new key alone reads it, the old one alone no longer.
    assert ContactCipher(after.contact_key).decrypt(token) == "anna@example.org"
    with pytest.raises(StoreError):
        ContactCipher(before.contact_key).decrypt(token)
    # The staff's TOTP keys, under a key derived from the contact key, are rotated with it.
    db = Database(db_url)
    try:
        async with db.session() as s:
            sealed = (
                await s.execute(select(StaffUser.totp_secret).where(StaffUser.username == "sara"))
            ).scalar_one()
    finally:
        await db.close()
    assert sealed is not None
    assert twofactor.cipher(after.contact_key).decrypt(sealed) == totp_key
    with pytest.raises(StoreError):
        twofactor.cipher(before.contact_key).decrypt(sealed)
    # What a process not restarted yet writes with the old key is still read.
    late = ContactCipher(before.contact_key).encrypt("bo@example.org")
    assert ContactCipher(after.contact_key, after.previous_contact_keys).decrypt(late) == "bo@example.org"

    # A process started with the old key is refused, and told it is the earlier one.
    old_keys = {"pseudonym_key": stored["pseudonym_key"], "contact_key": _b64(before.contact_key)}
    with pytest.raises(ConfigError, match=r"secrets\.contact_key.*earlier contact key"):
        await _start(db_url, tmp_path / "old", **old_keys)
    # One with the new keys starts.
    fresh = await _start(
        db_url, tmp_path / "new", pseudonym_key=stored["pseudonym_key"], contact_key=stored["contact_key"]
    )
    await fresh.close()
    assert _helpline("keys", "check", env=env).returncode == 0


def _b64(key: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(key).decode()


async def test_after_a_pseudonym_key_rotation_a_person_keeps_their_conversation(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    env = {**clean, "HELPLINE_DATA_DIR": str(tmp_path / "data")}
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'helpline.db'}"

    async def writes(text: str) -> str:
        async with running(make_settings(db_url, tmp_path), memory=True) as gw:
            return await gw.person("anna@example.org", text)

    first = await writes("jag oroar mig för min bror")
    rotated = _helpline("keys", "rotate", "pseudonym", env=env)
    assert rotated.returncode == 0, rotated.stderr
    stored = json.loads((tmp_path / "data" / "secrets.json").read_text())
    assert len(stored["previous_pseudonym_keys"]) == 1
    # The person writes again to a process with the new key: the same conversation, not a second one.
    assert await writes("han har slutat prata med oss") == first
    assert await writes("vad ska vi göra") == first
    # A process still given only the old pseudonym key is refused, and told it is the earlier one.
    old = {"pseudonym_key": stored["previous_pseudonym_keys"][0], "contact_key": stored["contact_key"]}
    with pytest.raises(ConfigError, match=r"secrets\.pseudonym_key.*earlier pseudonym key"):
        await _start(db_url, tmp_path / "old", **old)
