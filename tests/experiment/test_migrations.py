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


def test_upgrade_from_0001_keeps_data(database_url):
    """A database made at the first revision, with a session in it, upgrades to head."""
    db.upgrade(database_url, "0001")
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "insert into experiment (id, name, state, foil_policy, seed, settings, manifest_path, manifest_sha256,"
                " manifest_info, created_utc) values (1, 'e', 'open', 'different-song', 0, '{}', 'm', 's', '{}',"
                " '2026-01-01 00:00:00')"))
            conn.execute(sa.text("insert into version (id, experiment_id, number, quota) values (1, 1, 1, 8)"))
            conn.execute(sa.text(
                "insert into session (id, experiment_id, version_id, token, listener, seed, status, stage, withdrawn,"
                " started_utc) values (1, 1, 1, 't', 'L1', 0, 'active', 'headphone', false, '2026-01-01 00:00:00')"))
        db.upgrade(database_url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("select preview from session")).scalar() in (False, 0)
    finally:
        engine.dispose()


def _seed_session(conn, status: str = "active") -> None:
    """One study, version and session, written with plain SQL (the tables as of any revision)."""
    conn.execute(sa.text(
        "insert into experiment (id, name, state, foil_policy, seed, settings, manifest_path, manifest_sha256,"
        " manifest_info, created_utc) values (1, 'e', 'open', 'different-song', 0, '{}', 'm', 's', '{}',"
        " '2026-01-01 00:00:00')"))
    conn.execute(sa.text("insert into version (id, experiment_id, number, quota) values (1, 1, 1, 8)"))
    conn.execute(sa.text(
        "insert into session (id, experiment_id, version_id, token, listener, seed, status, stage, withdrawn,"
        f" started_utc) values (1, 1, 1, 't', 'L1', 0, '{status}', 'headphone', false, '2026-01-01 00:00:00')"))


def test_0004_admits_screened_out_and_downgrade_maps_it(database_url):
    """Before 0004 the status check refuses 'screened_out'; after it the row is stored; downgrading maps it."""
    from alembic import command

    db.upgrade(database_url, "0003")
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as conn:
            _seed_session(conn)
        import pytest
        from sqlalchemy.exc import IntegrityError

        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(sa.text("update session set status = 'screened_out'"))
        db.upgrade(database_url)
        with engine.begin() as conn:
            conn.execute(sa.text("update session set status = 'screened_out', headphone_attempts = 2"))
            assert conn.execute(sa.text("select status, headphone_attempts from session")).one() == ("screened_out", 2)
            with pytest.raises(IntegrityError), conn.begin_nested():
                conn.execute(sa.text("update session set status = 'nonsense'"))
        command.downgrade(db.alembic_config(database_url), "0003")
        with engine.connect() as conn:
            assert conn.execute(sa.text("select status from session")).scalar() == "abandoned"
    finally:
        engine.dispose()


def test_0005_adds_catch_false_for_old_rows_and_downgrade_drops_catch_trials(database_url):
    """Presentations made before 0005 are not catch trials; downgrading deletes the catch trials' rows only."""
    from alembic import command

    db.upgrade(database_url, "0004")
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as conn:
            _seed_session(conn)
            conn.execute(sa.text(
                "insert into clip (id, experiment_id, key, role, song, duration_s, file_path, sha256, size_bytes)"
                " values (1, 1, 'c', 'target', 's', 5.0, 'f', 'h', 1)"))
            conn.execute(sa.text(
                "insert into trial_template (id, version_id, practice, \"index\", item, target_clip_id, match_clip_id,"
                " foil_clip_id, correct_side) values (1, 1, false, 1, 'i1', 1, 1, 1, 'A')"))
            conn.execute(sa.text("insert into presentation (id, session_id, template_id, practice, order_index,"
                                 " correct_side, timed_out) values (1, 1, 1, false, 1, 'A', false)"))
        db.upgrade(database_url)
        with engine.begin() as conn:
            assert conn.execute(sa.text("select catch from presentation")).scalar() in (False, 0)
            conn.execute(sa.text("insert into presentation (id, session_id, template_id, practice, order_index,"
                                 " correct_side, timed_out, catch) values (2, 1, 1, false, 2, 'B', false, true)"))
        command.downgrade(db.alembic_config(database_url), "0004")
        with engine.connect() as conn:
            assert conn.execute(sa.text("select id from presentation")).scalars().all() == [1]
    finally:
        engine.dispose()


def test_0006_admits_mixed_keeps_sessions_and_downgrade_refuses_while_mixed_studies_exist(database_url):
    """0006 widens the foil-policy check in place (no table rebuild that would cascade-delete sessions)."""
    import pytest
    from alembic import command
    from sqlalchemy.exc import IntegrityError

    db.upgrade(database_url, "0005")
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as conn:
            _seed_session(conn)
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(sa.text("update experiment set foil_policy = 'mixed'"))
        db.upgrade(database_url)
        with engine.begin() as conn:
            assert conn.execute(sa.text("select count(*) from session")).scalar() == 1
            conn.execute(sa.text("update experiment set foil_policy = 'mixed', observer_lines = '{}'"))
            with pytest.raises(IntegrityError), conn.begin_nested():
                conn.execute(sa.text("update experiment set foil_policy = 'nonsense'"))
        with pytest.raises(RuntimeError, match="mixed-policy"):
            command.downgrade(db.alembic_config(database_url), "0005")
        with engine.begin() as conn:
            conn.execute(sa.text("update experiment set foil_policy = 'same-song'"))
        command.downgrade(db.alembic_config(database_url), "0005")
        with engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from session")).scalar() == 1
    finally:
        engine.dispose()


def test_0007_adds_simulated_false_and_keeps_every_child_row(database_url):
    """session.simulated is false for old sessions, and adding it deletes nothing (no SQLite table copy)."""
    from alembic import command

    db.upgrade(database_url, "0005")
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as conn:
            _seed_session(conn)
            conn.execute(sa.text("insert into event (id, session_id, kind, created_utc) "
                                 "values (1, 1, 'consent', '2026-01-01 00:00:00')"))
        db.upgrade(database_url)
        with engine.begin() as conn:
            assert conn.execute(sa.text("select simulated from session")).scalar() in (False, 0)
            assert conn.execute(sa.text("select count(*) from event")).scalar() == 1
        command.downgrade(db.alembic_config(database_url), "0005")
        with engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from session")).scalar() == 1
    finally:
        engine.dispose()


def test_every_migration_keeps_the_rows_that_hang_off_a_rebuilt_table(database_url):
    """Batch mode rebuilds `session` on SQLite; with foreign keys on, dropping the old table cascaded and emptied
    `event` (and `presentation`). Upgrading from the first revision to the head, and back, loses no row."""
    from alembic import command

    db.upgrade(database_url, "0001")
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as conn:
            _seed_session(conn)
            conn.execute(sa.text("insert into event (id, session_id, kind, created_utc) "
                                 "values (1, 1, 'consent', '2026-01-01 00:00:00')"))
        db.upgrade(database_url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from event")).scalar() == 1
        command.downgrade(db.alembic_config(database_url), "0001")
        with engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from event")).scalar() == 1
    finally:
        engine.dispose()


def test_0008_moves_the_archive_time_out_of_the_settings_and_back(database_url):
    """A study archived before 0008 kept `archived_utc` in its settings: the upgrade moves it into the column (the
    settings keep everything else), the downgrade puts it back."""
    import json
    from datetime import datetime, timezone

    from alembic import command

    db.upgrade(database_url, "0007")
    engine = db.make_engine(database_url)
    stored = {"catch_trials": 2, "archived_utc": "2026-03-04T05:06:07+00:00"}
    try:
        with engine.begin() as conn:
            _seed_session(conn)
            conn.execute(sa.text("insert into experiment (id, name, state, foil_policy, seed, settings, manifest_path,"
                                 " manifest_sha256, manifest_info, created_utc) values (2, 'f', 'closed', 'mixed', 0,"
                                 " :settings, 'm', 's', '{}', '2026-01-01 00:00:00')"),
                         {"settings": json.dumps(stored)})
        db.upgrade(database_url)
        from sqlalchemy.orm import Session

        from experiment.models import Experiment

        with Session(engine) as session:
            old, kept = session.get(Experiment, 2), session.get(Experiment, 1)
            assert (old.settings, old.archived_utc) == ({"catch_trials": 2}, datetime(2026, 3, 4, 5, 6, 7,
                                                                                      tzinfo=timezone.utc))
            assert (kept.settings, kept.archived_utc) == ({}, None)
        with engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from session")).scalar() == 1
        command.downgrade(db.alembic_config(database_url), "0007")
        with engine.connect() as conn:
            back = conn.execute(sa.text("select settings from experiment where id = 2")).scalar()
            assert (json.loads(back) if isinstance(back, str) else back) == stored
    finally:
        engine.dispose()
