"""Alembic environment: the URL comes from the config or the environment, never from this file."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from experiment.config import default_database_url
from experiment.db import make_engine
from experiment.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    """`-x url=…`, then the config's sqlalchemy.url (set by experiment.db.upgrade), then $DATABASE_URL."""
    return (
        context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
        or default_database_url()
    )


def _configure(**kwargs: object) -> None:
    """Shared options: batch mode so ALTERs work on SQLite, and type comparison for drift checks."""
    context.configure(target_metadata=target_metadata, render_as_batch=True, compare_type=True, **kwargs)


def run_migrations_offline() -> None:
    """Emit SQL for the URL without connecting."""
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Connect (or reuse a connection handed in) and migrate."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _migrate(conn)
    finally:
        engine.dispose()


def _migrate(conn: Connection) -> None:
    """Run the migrations on one connection (SQLite: with foreign keys off, see `_sqlite_foreign_keys`)."""
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        _sqlite_foreign_keys(conn, on=False)
    _configure(connection=conn)
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        _sqlite_foreign_keys(conn, on=True)


def _sqlite_foreign_keys(conn: Connection, *, on: bool) -> None:
    """Turn SQLite's foreign keys off for a migration, and back on with a check after it.

    Batch mode rebuilds a table by copying it and dropping the old one; with foreign keys on, SQLite's DROP
    TABLE first deletes every row, and ON DELETE CASCADE takes every child row with it (a migration of
    `session` emptied `event` and `presentation`). The pragma only works outside a transaction."""
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        if on:
            broken = cursor.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left {len(broken)} rows whose parent is missing, e.g. {broken[0]}")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
