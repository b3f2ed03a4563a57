"""The role sets, defined once: which staff roles may use a route (:class:`handoff.web.Route`)."""

from __future__ import annotations

from typing import Final

from gateway.store.models import Role

ALL_ROLES: Final = frozenset(r.value for r in Role)
"""Every signed-in staff member (signing out)."""
CONSOLE_ROLES: Final = frozenset({Role.COUNSELLOR.value, Role.SUPERVISOR.value, Role.ADMIN.value})
"""The counsellor console: the queue, conversations, referrals and disclosures."""
SUPERVISOR_ROLES: Final = frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})
"""Supervision: the overview, the audit log, erasure."""
ADMIN_ROLES: Final = frozenset({Role.ADMIN.value})
"""Administration: the directory of recipients, triage models and examples, dead letters."""
PORTAL_ROLES: Final = frozenset({Role.MUNICIPALITY.value})
"""The municipality portal."""
TRAINING_ROLES: Final = frozenset(
    {Role.TRAINEE.value, Role.COUNSELLOR.value, Role.SUPERVISOR.value, Role.ADMIN.value}
)
"""Training with simulated people (handoff.training): trainees, and any counsellor who practises."""
SITUATION_ROLES: Final = frozenset({Role.MUNICIPALITY.value, Role.SUPERVISOR.value, Role.ADMIN.value})
"""The local situational picture: a municipality user's own area; supervisors and admins any."""

__all__ = [
    "ADMIN_ROLES",
    "ALL_ROLES",
    "CONSOLE_ROLES",
    "PORTAL_ROLES",
    "SITUATION_ROLES",
    "SUPERVISOR_ROLES",
    "TRAINING_ROLES",
]
