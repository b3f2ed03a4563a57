"""outbox events: events written with the change they describe, published by the relay

Revision ID: 0006outbox
Revises: 0005
Create Date: 2026-12-03 22:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = "0006outbox"
down_revision = "0006dl"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("origin", sa.String(length=80), nullable=False),
        sa.Column("created_at", gateway.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox_events")),
    )
    op.create_index(
        op.f("ix_outbox_events_conversation_id"), "outbox_events", ["conversation_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_events_conversation_id"), table_name="outbox_events")
    op.drop_table("outbox_events")
