"""A study's archive time is state, not a setting (issue 27): experiment.archived_utc, moved out of the settings.

Studies archived before this revision kept the time as `archived_utc` inside `experiment.settings` (JSON); the
upgrade moves each one into the new column and removes the key, the downgrade puts it back. No row is copied or
dropped: a plain ALTER TABLE adds the column.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "archived_utc"
experiment = sa.table("experiment", sa.column("id", sa.Integer), sa.column("settings", sa.JSON),
                      sa.column(KEY, sa.DateTime(timezone=True)))


def _stored(value: datetime, dialect: str) -> datetime:
    """UTC, naive on SQLite (as experiment.models.UTCDateTime stores it)."""
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value.replace(tzinfo=None) if dialect == "sqlite" else value


def upgrade() -> None:
    """Add experiment.archived_utc and move every stored `archived_utc` setting into it."""
    op.add_column("experiment", sa.Column(KEY, sa.DateTime(timezone=True), nullable=True))
    conn = op.get_bind()
    for row in conn.execute(sa.select(experiment.c.id, experiment.c.settings)).all():
        settings = dict(row.settings or {})
        if KEY not in settings:
            continue
        when = settings.pop(KEY)
        archived = _stored(datetime.fromisoformat(when), conn.dialect.name) if when else None
        conn.execute(experiment.update().where(experiment.c.id == row.id).values(settings=settings,
                                                                                   archived_utc=archived))


def downgrade() -> None:
    """Put each archive time back into the settings, then drop the column (SQLite >= 3.35 drops it in place)."""
    conn = op.get_bind()
    rows = conn.execute(sa.select(experiment.c.id, experiment.c.settings, experiment.c.archived_utc)
                        .where(experiment.c.archived_utc.is_not(None))).all()
    for row in rows:
        when = row.archived_utc if row.archived_utc.tzinfo else row.archived_utc.replace(tzinfo=timezone.utc)
        settings = {**(row.settings or {}), KEY: when.astimezone(timezone.utc).isoformat()}
        conn.execute(experiment.update().where(experiment.c.id == row.id).values(settings=settings))
    op.execute(f"ALTER TABLE experiment DROP COLUMN {KEY}")
