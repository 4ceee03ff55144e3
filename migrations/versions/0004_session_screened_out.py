"""Headphone screen-out (issue 15): session status 'screened_out' and a count of headphone attempts.

A session that fails the headphone check ends as `screened_out` and never holds a quota place; a study may allow
one retry, so the attempts are counted (each retry draws new sounds). Downgrading turns screened-out sessions
into 'abandoned' (the old vocabulary's nearest: ended early, never counted).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "status in ('active', 'completed', 'timed_out', 'abandoned')"
NEW = "status in ('active', 'completed', 'timed_out', 'abandoned', 'screened_out')"


def upgrade() -> None:
    """Widen the status check to 'screened_out'; add session.headphone_attempts (NULL for existing sessions)."""
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_session_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_session_status"), NEW)
        batch_op.add_column(sa.Column("headphone_attempts", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Map screened-out sessions to 'abandoned', restore the old check, drop headphone_attempts."""
    op.execute("update session set status = 'abandoned' where status = 'screened_out'")
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.drop_column("headphone_attempts")
        batch_op.drop_constraint(op.f("ck_session_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_session_status"), OLD)
