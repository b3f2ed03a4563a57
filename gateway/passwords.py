"""The password policy of staff accounts: 12 to 1024 characters, not a common password.

Common passwords are the bundled list ``gateway/data/common_passwords.txt`` (ten thousand of the
most common from leaked password sets, and a few Swedish ones).  A password is refused when it is
one of them, also with digits and punctuation before or after it ("Password123!", "2024sommar"),
or when it has fewer than :data:`MIN_DISTINCT` different characters ("aaaaaaaaaaaa").
"""

from __future__ import annotations

import functools
import string
from importlib import resources

from gateway.errors import InvalidInput

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
"""The longest password accepted, at creation and at login alike."""
MIN_DISTINCT = 5
_DECORATION = string.digits + string.punctuation + " "


@functools.cache
def common_passwords() -> frozenset[str]:
    text = resources.files("gateway").joinpath("data/common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def problem(password: str) -> str | None:
    """Why the password is refused, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"the password may have at most {MAX_PASSWORD_LENGTH} characters"
    if len(set(password)) < MIN_DISTINCT:
        return f"the password must have at least {MIN_DISTINCT} different characters"
    folded = password.casefold()
    core = folded.strip(_DECORATION)
    common = common_passwords()
    if folded in common or core in common or not core or core.replace(" ", "") in common:
        return "the password is one of the most common passwords; choose another"
    return None


def check(password: str) -> None:
    """Raise :class:`~gateway.errors.InvalidInput` for a password the policy refuses."""
    found = problem(password)
    if found is not None:
        raise InvalidInput(found)
