"""The live app for end-to-end tests: settings, the database it serves, and a handle on the running server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "tests" / "experiment") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests" / "experiment"))  # experiment_factory, admin_support

from admin_support import FAST_HASH, PASSWORD  # noqa: E402
from experiment_factory import make_manifest  # noqa: E402

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("TUNEBACK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required",
]
SECRET = "e2e-secret-key-not-for-production"
ADMIN_USER = "alice"
ADMIN_PASSWORD = PASSWORD
CLIP_SECONDS = 0.25

AUDIO_PROBE = """
(() => {
  /* Record every buffer the page starts playing and when the audio clock says it ended. */
  const log = window.__audio = { started: [] };
  const start = AudioBufferSourceNode.prototype.start;
  AudioBufferSourceNode.prototype.start = function (...args) {
    const entry = { duration: this.buffer ? this.buffer.duration : 0, at: this.context.currentTime, ended: null };
    log.started.push(entry);
    this.addEventListener("ended", () => { entry.ended = this.context.currentTime; });
    return start.apply(this, args);
  };
})();
"""


def free_port() -> int:
    """An unused loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """The running app: where it is, its database, its studies."""

    base: str
    db_url: str
    studies: dict[str, int]
    log_path: Path
    proc: subprocess.Popen
    engine: sa.Engine = field(repr=False, default=None)

    def url(self, path: str = "/") -> str:
        return self.base + path

    def study_url(self, name: str, path: str = "") -> str:
        return f"{self.base}/study/{self.studies[name]}/{path}"

    def rows(self, query: sa.Executable) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())

    def scalar(self, query: sa.Executable) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()


def build_database(folder: Path) -> tuple[str, dict[str, int]]:
    """A fresh SQLite database with the four studies and one admin account."""
    from experiment.auth import create_user
    from experiment.db import make_engine, session_factory, upgrade
    from experiment.manifest import load_manifest
    from experiment.study import add_experiment

    manifest = load_manifest(make_manifest(folder / "clips", duration_s=CLIP_SECONDS))
    url = f"sqlite:///{folder / 'e2e.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    studies = {}
    try:
        with session_factory(engine)() as db:
            # created oldest first: "/" sends visitors to the newest open study, which is "main"
            for name, settings in (("capped", {"session_cap_s": 12, "trial_limit_s": 2}),
                                   ("short", {"trial_limit_s": 3, "too_fast_ms": 0}),  # the bot answers at once
                                   ("german", {"language": "de", "catch_trials": 1, "expected_minutes": 25,
                                               "researcher_contact": "Dr. Muster, muster@example.org"}),
                                   ("main", {})):
                # different-song foils: the test tones of one song differ only by noise, so the bot's ear (which
                # these tests check) is at chance on same-song trials; the mixed design has its own tests
                experiment = add_experiment(db, manifest, quota=500, seed=3, name=f"e2e {name}",
                                            foil_policy="different-song",
                                            settings={**settings, "places_per_client": 0},  # all from 127.0.0.1
                                            completion_code=f"E2E{name.upper()}",
                                            screened_out_code=f"OUT{name.upper()}")
                db.flush()
                studies[name] = experiment.id
            create_user(db, ADMIN_USER, ADMIN_PASSWORD, now=_utcnow(), method=FAST_HASH)
            db.commit()
    finally:
        engine.dispose()
    return url, studies


def _utcnow():  # noqa: ANN202
    from experiment.config import utc_clock

    return utc_clock()
