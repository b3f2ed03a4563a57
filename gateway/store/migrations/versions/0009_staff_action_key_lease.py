"""staff action key lease: the holder and lease of an idempotency key in progress

Revision ID: 0009idem
Revises: 0008send
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = "0009idem"
down_revision = "0008send"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_action_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holder", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("lease_until", gateway.store.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_action_keys", schema=None) as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("holder")
