"""What the web benchmarks share: a throw-away PostgreSQL database, a study in it, gunicorn on the app factory in
its own process group, and the results file (latency percentiles: loadbot.percentile_ms, for both).

bench_experiment.py and bench_load.py both drive a real gunicorn (gthread workers) on a loopback port against a
fresh database, kill it (or one worker) with SIGKILL and start it again; this is that machinery, once.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def add_pg_option(parser: argparse.ArgumentParser) -> None:
    """--pg: the PostgreSQL server to create the benchmark's database on (TUNEBACK_TEST_POSTGRES_URL by default)."""
    parser.add_argument("--pg", default=os.environ.get("TUNEBACK_TEST_POSTGRES_URL", DEFAULT_PG),
                        help="URL of a PostgreSQL database on the server (a fresh database is made beside it).")


@contextmanager
def fresh_database(pg_url: str, prefix: str) -> Iterator[tuple[str, str, sa.Engine]]:
    """A new database `<prefix>_<random>` on that server: yields (name, its URL, an AUTOCOMMIT engine on the
    server's own database); dropped afterwards even if connections are left (WITH (FORCE))."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield name, sa.engine.make_url(pg_url).set(database=name).render_as_string(hide_password=False), admin
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_study(url: str, folder: Path, **kwargs: Any) -> int:
    """A study from the synthetic manifest with contract-sized clips (5 s, 22 050 Hz, 16-bit mono); its id."""
    sys.path.insert(0, str(ROOT / "tests" / "experiment"))
    from experiment.study import create_experiment
    from experiment_factory import make_manifest

    return create_experiment(url, make_manifest(folder / "clips", duration_s=5.0), **kwargs)


def write_results(name: str, results: dict[str, Any]) -> Path:
    """benchmarks/results/<name>.json (figures that are not JSON types are written as strings)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    return path


def free_port() -> int:
    """An unused loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """gunicorn on `experiment:create_app()`, in its own process group so one SIGKILL takes master and workers.

    :param env: settings on top of DATABASE_URL, SECRET_KEY and the instance folder (TUNEBACK_* variables).
    :param log_path: where its output goes (None: this process's stdout and stderr).
    :param extra_args: more gunicorn options.
    """

    def __init__(self, url: str, instance: Path, workers: int, threads: int, *, secret: str,
                 env: dict[str, str] | None = None, log_path: Path | None = None,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": secret, "TUNEBACK_INSTANCE_PATH": str(instance),
                    **(env or {})}
        self.cmd = [str(Path(sys.executable).parent / "gunicorn"), "experiment:create_app()", "--bind",
                    f"127.0.0.1:{self.port}", "--workers", str(workers), "--worker-class", "gthread", "--threads",
                    str(threads), "--log-level", "warning", "--chdir", str(ROOT), *extra_args]
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 60.0) -> float:
        """Start and wait until it answers; returns the seconds it took."""
        t0 = time.perf_counter()
        if self.log_path is None:
            self.proc = subprocess.Popen(self.cmd, env=self.env, start_new_session=True)
        else:
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True)
        while time.perf_counter() - t0 < timeout_s:
            try:
                if requests.get(self.base + "/", timeout=2).status_code < 500:
                    return time.perf_counter() - t0
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                tail = self.log_path.read_text()[-2000:] if self.log_path else ""
                raise RuntimeError(f"gunicorn exited during start {tail}")
            time.sleep(0.05)
        raise RuntimeError("gunicorn did not come up")

    def workers(self) -> list[int]:
        """The master's child processes (the workers)."""
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def kill(self) -> None:
        """SIGKILL master and workers at once (no graceful anything)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not go within 30 s."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
