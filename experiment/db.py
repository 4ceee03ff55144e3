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


def shown_url(url: str) -> str:
    """A database URL as messages show it: never with its password."""
    try:
        return sa.engine.make_url(normalise_url(url)).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<not a database URL>"


def check_database(url: str, *, must_exist: bool, need_schema: bool = False) -> str:
    """Refuse, in one line (ExperimentError), a URL that is not a database this CLI can reach; return it normalised.

    `must_exist`: a SQLite file must already be there (read-only verbs never create one, a typo never becomes an
    empty database). `need_schema`: the database must hold tuneback's tables (it was migrated).
    """
    from experiment.errors import ExperimentError

    url = normalise_url(url)
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise ExperimentError(f"{url!r} is not a database URL (e.g. sqlite:///instance/tuneback.sqlite or "
                              "postgresql+psycopg://user@host/db); check --db or $DATABASE_URL") from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ExperimentError(f"{shown}: only sqlite:// and postgresql:// databases are supported")
    database = parsed.database
    if parsed.get_backend_name() == "sqlite" and must_exist and database and database != ":memory:" \
            and not database.startswith("file:") and not Path(database).is_file():
        raise ExperimentError(f"no database at {database}: check --db or $DATABASE_URL (create a study first with "
                              "`tuneback experiment create` or `bash scripts/demo.sh`)")
    try:
        engine = make_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise ExperimentError(f"{shown}: {str(exc).splitlines()[0]}") from None
    try:
        with engine.connect() as conn:
            if need_schema and not sa.inspect(conn).has_table("experiment"):
                raise ExperimentError(f"the database at {shown} holds no tuneback study (no `experiment` table): "
                                      "check --db or $DATABASE_URL")
    except sa.exc.SQLAlchemyError as exc:
        first = str(exc.orig if getattr(exc, "orig", None) else exc).strip().splitlines()
        raise ExperimentError(f"cannot open the database at {shown}: {first[0] if first else exc.__class__.__name__}"
                              ) from None
    finally:
        engine.dispose()
    return url
