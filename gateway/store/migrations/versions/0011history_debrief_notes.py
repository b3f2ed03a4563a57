"""debrief notes: a counsellor's note to the supervisors after a critical conversation

Revision ID: 0010history
Revises: 0010shift
Create Date: 2026-12-04 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = "0010history"
down_revision = "0010shift"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "debrief_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", gateway.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_debrief_notes_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debrief_notes")),
    )
    with op.batch_alter_table("debrief_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_debrief_notes_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_debrief_notes_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("debrief_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_debrief_notes_created_at"))
        batch_op.drop_index(batch_op.f("ix_debrief_notes_conversation_id"))
    op.drop_table("debrief_notes")
