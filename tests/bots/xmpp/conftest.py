"""Fixtures for XMPP tests: a private Prosody per test module, fresh accounts, the person's client.

The helpers live in ``xmpp_support`` (``Prosody``, ``running_prosody``, ``Person``,
``RecordingIngress``) so that end-to-end tests can use them too.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.bots.xmpp.xmpp_support import (
    Account,
    Person,
    Prosody,
    RecordingIngress,
    new_account,
    running_prosody,
)


@pytest.fixture(scope="module")
def prosody() -> Iterator[Prosody]:
    if shutil.which("prosody") is None:
        pytest.skip("prosody is not installed (apt-get install prosody)")
    with running_prosody() as server:
        yield server


@pytest.fixture
def gateway_account(prosody: Prosody) -> Account:
    return new_account(prosody, "gateway")


@pytest.fixture
def person_account(prosody: Prosody) -> Account:
    return new_account(prosody, "person")


@pytest.fixture
async def person(prosody: Prosody, person_account: Account) -> AsyncIterator[Person]:
    p = Person(prosody, person_account)
    await p.connect()
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
def ingress() -> RecordingIngress:
    return RecordingIngress()
