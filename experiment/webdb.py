"""The app's database handle: one engine per app, one SQLAlchemy session per request, and the clock."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from experiment.db import make_engine, session_factory, upgrade

EXTENSION = "tuneback.db"


def init_app(app: Flask) -> None:
    """Create the engine (migrating first when MIGRATE_ON_START) and close each request's session."""
    url = app.config["DATABASE_URL"]
    if app.config.get("MIGRATE_ON_START"):
        upgrade(url)
    engine = make_engine(url)
    app.extensions[EXTENSION] = {"engine": engine, "sessions": session_factory(engine)}
    app.teardown_appcontext(close_db)


def get_db() -> Session:
    """This request's database session (opened on first use)."""
    if "db" not in g:
        g.db = current_app.extensions[EXTENSION]["sessions"]()
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    """Close the request's session; anything not committed is rolled back."""
    db = g.pop("db", None)
    if db is not None:
        db.close()


def engine_of(app: Flask):  # noqa: ANN201 - sqlalchemy Engine
    """The app's engine (tests and the CLI dispose of it)."""
    return app.extensions[EXTENSION]["engine"]


def now() -> datetime:
    """The server clock (UTC), injectable through the CLOCK setting."""
    return current_app.config["CLOCK"]()


def grace_s() -> float:
    """The TRIAL_GRACE_S setting: how long after a trial's limit an answer still in flight is accepted."""
    return float(current_app.config["TRIAL_GRACE_S"])
