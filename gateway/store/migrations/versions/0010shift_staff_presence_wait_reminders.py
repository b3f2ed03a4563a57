"""staff presence and wait reminders: each staff member's status (available, break, away) and when a
waiting conversation was last reminded of

Revision ID: 0010shift
Revises: 0009idem
Create Date: 2026-12-04 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = "0010shift"
down_revision = "0009idem"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_presence",
        sa.Column("user_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("changed_at", gateway.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_active_at", gateway.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["staff_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "wait_reminders",
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("reminded_at", gateway.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id"),
    )


def downgrade() -> None:
    op.drop_table("wait_reminders")
    op.drop_table("staff_presence")
