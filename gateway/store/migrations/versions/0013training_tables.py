"""training: sessions with simulated people, their messages, admins' scenario edits, required scenarios

Revision ID: 0013training
Revises: 0013phone
Create Date: 2026-12-04 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = "0013training"
down_revision = "0013phone"
branch_labels = None
depends_on = None

UTC = gateway.store.models.UTCDateTime


def _staff_fk(table: str, column: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["staff_users.id"], name=op.f(f"fk_{table}_{column}_staff_users"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "training_scenarios",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        _staff_fk("training_scenarios", "updated_by", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_scenarios")),
    )
    op.create_table(
        "training_requirements",
        sa.Column("scenario_id", sa.String(length=64), nullable=False),
        sa.Column("set_by", sa.Integer(), nullable=True),
        sa.Column("set_at", UTC(timezone=True), nullable=False),
        _staff_fk("training_requirements", "set_by", "SET NULL"),
        sa.PrimaryKeyConstraint("scenario_id", name=op.f("pk_training_requirements")),
    )
    op.create_table(
        "training_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("scenario_id", sa.String(length=64), nullable=False),
        sa.Column("trainee_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("intent", sa.String(length=40), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTC(timezone=True), nullable=False),
        sa.Column("claimed_at", UTC(timezone=True), nullable=True),
        sa.Column("closed_at", UTC(timezone=True), nullable=True),
        sa.Column("last_trainee_at", UTC(timezone=True), nullable=True),
        sa.Column("followups", sa.Integer(), nullable=False),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column("feedback_by", sa.Integer(), nullable=True),
        sa.Column("feedback_at", UTC(timezone=True), nullable=True),
        _staff_fk("training_sessions", "trainee_id", "CASCADE"),
        _staff_fk("training_sessions", "feedback_by", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_sessions")),
    )
    with op.batch_alter_table("training_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_training_sessions_scenario_id"), ["scenario_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_training_sessions_trainee_id"), ["trainee_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_training_sessions_started_at"), ["started_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_training_sessions_closed_at"), ["closed_at"], unique=False)
    op.create_table(
        "training_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("triage", sa.JSON(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("due_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["training_sessions.id"],
            name=op.f("fk_training_messages_session_id_training_sessions"),
            ondelete="CASCADE",
        ),
        _staff_fk("training_messages", "author_id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_messages")),
    )
    with op.batch_alter_table("training_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_training_messages_session_id"), ["session_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("training_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_messages_session_id"))
    op.drop_table("training_messages")
    with op.batch_alter_table("training_sessions", schema=None) as batch_op:
        for column in ("closed_at", "started_at", "trainee_id", "scenario_id"):
            batch_op.drop_index(batch_op.f(f"ix_training_sessions_{column}"))
    op.drop_table("training_sessions")
    op.drop_table("training_requirements")
    op.drop_table("training_scenarios")
