"""Alembic builds exactly the tables of experiment.models, on SQLite and PostgreSQL (no drift)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from experiment import db
from experiment.models import Base

TABLES = {
    "clip", "experiment", "version", "trial_template", "session", "presentation", "event", "questionnaire",
    "admin_user", "audit_log",
}


def test_upgrade_head_matches_models(database_url):
    db.upgrade(database_url)
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
            assert tables == TABLES == set(Base.metadata.tables)
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert context.get_current_revision() == db.head_revision()
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_and_downgrade_empties(database_url):
    db.upgrade(database_url)
    db.upgrade(database_url)
    from alembic import command

    command.downgrade(db.alembic_config(database_url), "base")
    engine = db.make_engine(database_url)
    try:
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_alembic_ini_points_at_migrations():
    from pathlib import Path

    ini = Path(db.MIGRATIONS_DIR).parent / "alembic.ini"
    assert "script_location = migrations" in ini.read_text()
