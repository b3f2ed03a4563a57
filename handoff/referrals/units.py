"""Which portal unit sees a referral, which units a municipality user may see, and which of a
recipient's handoff methods can be used."""

from __future__ import annotations

from handoff.directory.catalog import Directory
from handoff.directory.entries import Recipient


def portal_unit_of(recipient: Recipient, directory: Directory) -> str | None:
    """Whose municipal portal shows referrals to ``recipient`` (None: no municipal portal)."""
    if not any(m.method == "portal" for m in recipient.handoff):
        return None
    if recipient.municipality_code:
        return recipient.municipality_code
    if any(k.id == recipient.id for k in directory.kunskapshus):
        return recipient.id
    return None


def user_units(code: str | None, directory: Directory) -> frozenset[str]:
    """The portal units a municipality user's ``municipality_code`` gives access to.

    An SCB code (``"1480"``) gives that municipality's social services; a Kunskapshus id
    (``"kunskapshus-goteborg"``) or ``"KH"`` + the host's SCB code (``"KH1480"``, which fits the
    8 characters of ``staff_users.municipality_code``) gives that Kunskapshus.
    """
    if not code:
        return frozenset()
    code = code.strip()
    for k in directory.kunskapshus:
        if code in (k.id, f"KH{k.host}"):
            return frozenset({k.id})
    if directory.municipality(code) is not None:
        return frozenset({code})
    return frozenset()


def usable_methods(recipient: Recipient, directory: Directory) -> list[str]:
    methods: list[str] = []
    for m in recipient.handoff:
        if m.method == "portal" and portal_unit_of(recipient, directory) is not None:
            methods.append("portal")
        elif m.method == "email" and m.address:
            methods.append("email")
        elif m.method == "webhook" and m.url:
            methods.append("webhook")
    return methods
