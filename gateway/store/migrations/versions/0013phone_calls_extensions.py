"""phone calls: staff extensions, the calls and the phone system's events (issue 20)

Revision ID: 0013phone
Revises: 0013lang
Create Date: 2026-12-04 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = "0013phone"
down_revision = "0013lang"
branch_labels = None
depends_on = None

UTC = gateway.store.models.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("extension", sa.String(length=16), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_staff_users_extension"), ["extension"])
    op.create_table(
        "phone_calls",
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("line", sa.String(length=64), nullable=False),
        sa.Column("extension", sa.String(length=16), nullable=True),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("withheld", sa.Boolean(), nullable=False),
        sa.Column("callback", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("ringing_at", UTC(timezone=True), nullable=True),
        sa.Column("answered_at", UTC(timezone=True), nullable=True),
        sa.Column("ended_at", UTC(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["answered_by"],
            ["staff_users.id"],
            name=op.f("fk_phone_calls_answered_by_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_phone_calls_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_phone_calls")),
        sa.UniqueConstraint("conversation_id", name=op.f("uq_phone_calls_conversation_id")),
    )
    op.create_table(
        "phone_call_events",
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("at", UTC(timezone=True), nullable=False),
        sa.Column("received_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("call_id", "event", name=op.f("pk_phone_call_events")),
    )


def downgrade() -> None:
    op.drop_table("phone_call_events")
    op.drop_table("phone_calls")
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_staff_users_extension"), type_="unique")
        batch_op.drop_column("extension")
