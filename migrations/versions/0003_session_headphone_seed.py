"""A session's headphone-check seed, apart from its trial-order seed (both HMAC-derived, issue 14).

The headphone sounds reach the browser, so their seed must tell nothing about the trial order and sides.
Sessions made before this revision keep NULL and fall back to their single `seed`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add session.headphone_seed (NULL for existing sessions)."""
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("headphone_seed", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Drop session.headphone_seed."""
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.drop_column("headphone_seed")
