"""Catch trials (issue 15): presentation.catch marks a trial whose X is played again on the correct side.

Catch trials are drawn into a session's plan from its seed when the study asks for them (settings
`catch_trials`); they are shown like any trial and never scored. Existing presentations are not catch trials.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add presentation.catch (false for every existing row)."""
    with op.batch_alter_table("presentation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("catch", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    """Drop the catch trials' rows (they were never scored) and the column."""
    op.execute("delete from presentation where catch")
    with op.batch_alter_table("presentation", schema=None) as batch_op:
        batch_op.drop_column("catch")
