"""After ``helpline keys rotate pseudonym``: a person's open conversation is found by the pseudonym
an earlier key gave their address, and takes the new key's pseudonym from then on."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.envelope import pseudonymize
from gateway.store import repo
from gateway.store.models import Conversation


async def recognise_by_previous_keys(
    session: AsyncSession, keys: Sequence[bytes], channel: str, address: str, pseudonym: str
) -> Conversation | None:
    """The open conversation of ``address`` under one of the earlier ``keys``, moved to ``pseudonym``."""
    for key in keys:
        found = await repo.find_open_conversation(session, channel, pseudonymize(key, channel, address))
        if found is not None:
            found.pseudonym = pseudonym
            await session.flush()
            return found
    return None
