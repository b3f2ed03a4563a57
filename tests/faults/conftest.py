"""Fixtures of the fault tests: a private PostgreSQL cluster a test may stop and start again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.private_pg import PrivatePostgres, postgres_bin


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    """A started PostgreSQL of the test's own (``url``, ``stop()``, ``start()``, ``restart()``)."""
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("needs PostgreSQL's initdb and pg_ctl")
    server = PrivatePostgres(bindir)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()
