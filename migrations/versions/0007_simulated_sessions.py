"""Simulated sessions (issue 29): session.simulated marks a session made by `tuneback experiment simulate`.

A simulated listener proves it with the study's simulation key (experiment/simulation.py); the flag travels into
every export and the analysis, which excludes or flags simulated listeners by a stated rule. Sessions made before
this revision keep false (older simulated listeners are still recognised by their `sim-` Prolific ids).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add session.simulated (false for every existing row).

    A plain ALTER TABLE, never batch mode: on SQLite batch mode copies and drops `session`, and with foreign keys
    on, dropping it would cascade into every presentation and event of the study.
    """
    op.add_column("session", sa.Column("simulated", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    """Drop the flag (the rows stay; SQLite >= 3.35 drops a column in place)."""
    op.execute("ALTER TABLE session DROP COLUMN simulated")
