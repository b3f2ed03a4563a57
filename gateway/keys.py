"""The secret keys every process of a fleet must share: checked at start, rotated on command.

At the first start the database gets a keyed fingerprint of the pseudonym key and of the contact
key (``key_fingerprints``; HMAC-SHA256 of a fixed text under the key, which tells nothing about the
key).  Every later start compares: a process whose key differs refuses to start and says which key
(with a different contact key it could not read a single contact record; with a different pseudonym
key one person's chat would become two conversations).

``helpline keys rotate pseudonym`` records a new pseudonym key; the earlier one goes to
``secrets.previous_pseudonym_keys``, where it still recognises a person's open conversation
(:mod:`gateway.keys_recognise`).  ``helpline keys rotate contact`` makes a new contact key, re-encrypts every contact record with it
in one transaction and records its fingerprint; the earlier key goes to
``secrets.previous_contact_keys``, where it still decrypts what processes not restarted yet write.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway import twofactor
from gateway.config import Settings
from gateway.crypto import ContactCipher
from gateway.envelope import utcnow
from gateway.errors import ConfigError
from gateway.store.db import Database
from gateway.store.models import ContactRecord, KeyFingerprint, StaffUser

CONFIG_KEYS = {"pseudonym": "secrets.pseudonym_key", "contact": "secrets.contact_key"}


def fingerprint(name: str, key: bytes) -> str:
    return hmac.new(key, b"helpline key fingerprint\0" + name.encode(), hashlib.sha256).hexdigest()[:32]


def _keys(settings: Settings) -> dict[str, bytes]:
    return {"pseudonym": settings.pseudonym_key, "contact": settings.contact_key}


def _refusal(name: str, row: KeyFingerprint, key: bytes) -> ConfigError:
    if fingerprint(name, key) in (row.previous or []):
        return ConfigError(
            CONFIG_KEYS[name],
            f"is an earlier {name} key, replaced by 'helpline keys rotate {name}': configure the current one "
            f"(as every other process has it) and keep this one under secrets.previous_{name}_keys",
        )
    return ConfigError(
        CONFIG_KEYS[name],
        f"differs from the {name} key this database was first started with: every process must have the same "
        "secrets (a process with another key would not recognise people or read contact records)",
    )


async def check_keys(db: Database, settings: Settings) -> None:
    """Record the keys' fingerprints at the first start; raise ConfigError naming a key that differs."""
    for name, key in _keys(settings).items():
        for _attempt in range(2):
            try:
                async with db.session() as session:
                    row = await session.get(KeyFingerprint, name)
                    if row is None:
                        session.add(
                            KeyFingerprint(name=name, fingerprint=fingerprint(name, key), previous=[])
                        )
                        break
                    if row.fingerprint != fingerprint(name, key):
                        raise _refusal(name, row, key)
                    break
            except IntegrityError:
                continue  # another process recorded it at the same moment: compare with that one


@dataclass(frozen=True, slots=True)
class Rotation:
    new_key: str
    old_key: str
    records: int


async def rotate_pseudonym_key(db: Database, settings: Settings, new_key: bytes) -> Rotation:
    """Make ``new_key`` the recorded pseudonym key.  Pseudonyms are one-way, so nothing is rewritten
    now: a person's open conversation moves to the new pseudonym with their next message, found by
    the earlier key in ``secrets.previous_pseudonym_keys`` (``gateway.keys_recognise``)."""
    await check_keys(db, settings)
    async with db.session() as session:
        row = await session.get(KeyFingerprint, "pseudonym", with_for_update=True)
        assert row is not None  # check_keys recorded it
        row.previous = [*(row.previous or []), row.fingerprint]
        row.fingerprint = fingerprint("pseudonym", new_key)
        row.set_at = utcnow()
    return Rotation(
        new_key=base64.urlsafe_b64encode(new_key).decode(),
        old_key=base64.urlsafe_b64encode(settings.pseudonym_key).decode(),
        records=0,
    )


async def rotate_contact_key(db: Database, settings: Settings, new_key: bytes) -> Rotation:
    """Re-encrypt every contact record with ``new_key`` and make it the recorded contact key."""
    await check_keys(db, settings)
    old = settings.contact_key
    cipher = ContactCipher(new_key, (old, *settings.previous_contact_keys))
    async with db.session() as session:
        row = await session.get(KeyFingerprint, "contact", with_for_update=True)
        assert row is not None  # check_keys recorded it
        records = (await session.execute(select(ContactRecord))).scalars().all()
        for record in records:
            record.ciphertext = cipher.rotate(record.ciphertext)
        # The staff's TOTP secrets are under a key derived from the contact key: rotated with it.
        totp = twofactor.cipher(new_key, (old, *settings.previous_contact_keys))
        staff = (await session.execute(select(StaffUser).where(StaffUser.totp_secret.is_not(None)))).scalars()
        for user in staff:
            assert user.totp_secret is not None
            user.totp_secret = totp.rotate(user.totp_secret)
        row.previous = [*(row.previous or []), row.fingerprint]
        row.fingerprint = fingerprint("contact", new_key)
        row.set_at = utcnow()
    return Rotation(
        new_key=base64.urlsafe_b64encode(new_key).decode(),
        old_key=base64.urlsafe_b64encode(old).decode(),
        records=len(records),
    )
