"""Engines, sessions and schema upgrades (Alembic, run programmatically) for SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from experiment.config import normalise_url

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def make_engine(url: str, **kwargs: object) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and write-locking transactions so writers queue, not fail."""
    url = normalise_url(url)
    if sa.engine.make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


def _sqlite_engine(url: str, **kwargs: object) -> Engine:
    """SQLite: BEGIN IMMEDIATE on every transaction (a deferred one may fail to upgrade its lock under load)."""
    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    connect_args = dict(kwargs.pop("connect_args", {}) or {})  # type: ignore[call-overload]
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", 30)
    engine = sa.create_engine(url, connect_args=connect_args, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001 - DBAPI objects are untyped
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if database and database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # noqa: ANN001
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            connection.exec_driver_sql("BEGIN")  # a reader: takes no write lock, never holds up a writer (WAL)
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


READ_ONLY_OPTION = "tuneback_read_only"
"""Execution option that starts a transaction as a plain (deferred) BEGIN on SQLite, see `begin_read`."""


def begin_read(db: Session) -> None:
    """End the session's transaction and start one that only reads: on SQLite it takes no write lock.

    Every other transaction on SQLite is BEGIN IMMEDIATE (writers queue instead of failing), which holds the
    database's one write lock from the first statement to the commit; a request that only reads (an admin poll
    computing its payload) calls this first so writers are not held up meanwhile. Writing in such a transaction
    is a bug: commit, and write in the next one. On PostgreSQL it is an ordinary transaction.
    """
    db.commit()
    db.connection(execution_options={READ_ONLY_OPTION: True})


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session maker whose objects stay readable after commit (views render after committing)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(url: str):  # noqa: ANN201 - alembic.config.Config, imported lazily
    """An Alembic config pointing at `migrations/` and the given database (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (creates it from nothing on a fresh database)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The Alembic revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision in `migrations/`."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
