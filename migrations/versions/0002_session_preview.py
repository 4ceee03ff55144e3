"""Flag experimenter preview sessions, which never count towards quotas or analysis.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add session.preview (false for every existing session)."""
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preview", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    """Drop session.preview."""
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.drop_column("preview")
