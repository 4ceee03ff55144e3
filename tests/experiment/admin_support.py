"""Helpers for the admin panel tests: a fast SQLite study, an app, a logged-in admin client, filled sessions."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from experiment.db import make_engine, session_factory
from experiment_client import ROOMY_LIMITS, SECRET, FakeClock, Study

PASSWORD = "correct horse battery staple"
FAST_HASH = "pbkdf2:sha256:1000"
"""Tests hash with a cheap method; the product's default is scrypt (tested once, in the CLI test)."""

CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def admin_app(url: str, clock: FakeClock, tmp_path: Path, **extra: Any):
    """An app on `url` with the fake clock and an instance folder of its own."""
    from experiment import create_app

    return create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "TESTING": True, "CLOCK": clock,
                       "INSTANCE_PATH": str(tmp_path / "instance"), **ROOMY_LIMITS, **extra})


def add_admin(url: str, username: str = "alice", password: str = PASSWORD) -> int:
    """Create an admin account directly in the database; return its id."""
    from experiment.auth import create_user

    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            user = create_user(db, username, password, now=FakeClock().now, method=FAST_HASH)
            db.commit()
            return user.id
    finally:
        engine.dispose()


def copy_study(template: Path, tmp_path: Path, experiment_id: int) -> Study:
    """A fresh copy of a prebuilt SQLite study (milliseconds instead of a migration and a design draw)."""
    target = tmp_path / "study.sqlite"
    shutil.copyfile(template, target)
    wal = Path(f"{template}-wal")
    if wal.exists():  # normally checkpointed away when the builder closed the database
        shutil.copyfile(wal, Path(f"{target}-wal"))
    return Study(f"sqlite:///{target}", experiment_id)


@pytest.fixture(scope="session")
def study_template(tmp_path_factory, manifest_path) -> tuple[Path, int]:
    """One SQLite study built once per test run; tests get copies (see `lite`)."""
    from experiment.study import create_experiment

    folder = tmp_path_factory.mktemp("admin-template")
    path = folder / "template.sqlite"
    experiment_id = create_experiment(f"sqlite:///{path}", manifest_path, seed=1)
    return path, experiment_id


@pytest.fixture
def lite(study_template, tmp_path) -> Study:
    """A fresh SQLite copy of the template study, with an admin account 'alice'."""
    study = copy_study(study_template[0], tmp_path, study_template[1])
    add_admin(study.url)
    return study


@pytest.fixture
def lite_app(lite, clock, tmp_path):
    """An app on the SQLite study."""
    from experiment.webdb import engine_of

    app = admin_app(lite.url, clock, tmp_path, ADMIN_REPORT_POWER_REPS=20)
    yield app
    engine_of(app).dispose()


@pytest.fixture
def admin(lite_app) -> AdminClient:
    """A logged-in admin on the SQLite study."""
    client = AdminClient(lite_app)
    assert client.login().status_code == 302
    return client


class AdminClient:
    """A test client that logs in through the form and posts with the page's CSRF token."""

    def __init__(self, app, **environ: Any) -> None:
        self.app = app
        self.client = app.test_client()
        self.environ = environ
        self.csrf: str | None = None

    def get(self, path: str, **kwargs: Any):
        response = self.client.get(path, environ_base=self.environ, **kwargs)
        match = CSRF_RE.search(response.get_data(as_text=True)) if response.mimetype == "text/html" else None
        if match:
            self.csrf = match.group(1)
        return response

    def post(self, path: str, data: dict | None = None, csrf: bool = True, **kwargs: Any):
        if csrf and self.csrf is None:
            self.get("/admin/login")
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.csrf
        return self.client.post(path, data=data, environ_base=self.environ, **kwargs)

    def login(self, username: str = "alice", password: str = PASSWORD):
        self.get("/admin/login")
        response = self.post("/admin/login", {"username": username, "password": password})
        if response.status_code == 302:  # a login starts a fresh session, so a fresh CSRF token
            self.get("/admin/")
        return response


@dataclass
class Filled:
    """Sessions made by `fill`: their ids by label."""

    ids: dict[str, int]


def listened(db, s, p, now) -> None:  # noqa: ANN001
    """Fetch and play X, A and B of a presented trial, as the page does (studies require listening by default)."""
    from experiment.client_events import log_events
    from experiment.listening import record_fetch
    from experiment.session_rows import trial_key

    for slot in ("x", "a", "b"):
        record_fetch(db, s, p, slot, now, None)
    log_events(db, s, [{"kind": "play", "slot": slot, "trial": trial_key(p), "t": 1.0} for slot in ("x", "a", "b")],
               now)


def run_session(db, experiment_id: int, clock: FakeClock, *, trials: int | None = None, side: str = "A",
                pid: str | None = None, questionnaire: dict | None = None):
    """Walk one participant through the flow with the library functions (no HTTP): fast and exact.

    `trials` = how many scored trials to answer (None: all, then the questionnaire).
    """
    from experiment.assignment import Prolific, assign
    from experiment.headphone_check import headphone_answers, submit_headphone
    from experiment.session_end import submit_questionnaire
    from experiment.session_rows import presentations, trial_key
    from experiment.trials import answer, present, start_task

    result = assign(db, experiment_id, now=clock.now, prolific=Prolific(pid, "study", "sess") if pid else Prolific())
    s = result.session
    submit_headphone(db, s, headphone_answers(s, 6), 0.5, clock.now)
    start_task(db, s, clock.now)
    db.commit()
    plan = presentations(db, s)
    scored = 0
    for k, p in enumerate(plan):
        if not p.practice:
            if trials is not None and scored >= trials:
                break
            scored += 1
        present(db, s, trial_key(p), clock.now)
        listened(db, s, p, clock.now)
        clock.advance(2)
        answer(db, s, trial=trial_key(p), side=side if k % 3 else ("B" if side == "A" else "A"),
               client_id=f"{s.id}-{k}-answer", now=clock.now)
        db.commit()
    if trials is None:
        submit_questionnaire(db, s, questionnaire or {"age": "25-34", "strategy": "listened"}, clock.now)
        db.commit()
    return s


def fill(url: str, experiment_id: int, clock: FakeClock, plan: dict[str, dict]) -> dict[str, int]:
    """Create sessions by label: {"done": {}, "half": {"trials": 5}, ...}; returns their session ids."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            return {label: run_session(db, experiment_id, clock, **kwargs).id for label, kwargs in plan.items()}
    finally:
        engine.dispose()


def scalar(url: str, query: sa.Select) -> Any:
    """One value from the database."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(query).scalar()
    finally:
        engine.dispose()


def rows(url: str, query: sa.Select) -> list:
    """All rows of a query."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(query).all()
    finally:
        engine.dispose()


__all__ = ["AdminClient", "FAST_HASH", "PASSWORD", "add_admin", "admin", "admin_app", "copy_study",
           "fill", "lite", "lite_app", "rows", "run_session", "scalar", "study_template"]
