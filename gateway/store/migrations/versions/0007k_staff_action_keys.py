"""staff action keys: idempotency keys of staff actions that create something, with their answer

Revision ID: 0007k
Revises: 0006k
Create Date: 2026-12-03 23:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = "0007k"
down_revision = "0006k"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_action_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_at", gateway.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_staff_action_keys_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_users.id"],
            name=op.f("fk_staff_action_keys_user_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_action_keys")),
        sa.UniqueConstraint("user_id", "key", name="uq_staff_action_keys_user_key"),
    )
    op.create_index(
        op.f("ix_staff_action_keys_conversation_id"), "staff_action_keys", ["conversation_id"], unique=False
    )
    op.create_index(
        op.f("ix_staff_action_keys_created_at"), "staff_action_keys", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_action_keys_created_at"), table_name="staff_action_keys")
    op.drop_index(op.f("ix_staff_action_keys_conversation_id"), table_name="staff_action_keys")
    op.drop_table("staff_action_keys")
