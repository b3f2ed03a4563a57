"""staff accounts: the languages the holder speaks with a person (conversations matched by language)

Revision ID: 0013lang
Revises: 0010staff
Create Date: 2026-12-04 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013lang"
down_revision = "0010staff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every account made before speaks the line's working languages, Swedish and English.
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("spoken_languages", sa.JSON(), nullable=False, server_default='["sv", "en"]')
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("spoken_languages")
