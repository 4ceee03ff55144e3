"""An install with only the `analysis` (or `web`) extra runs its own CLI verbs (issue 27).

No fresh venv (no internet at test time): the CLI runs in a subprocess where the modules the extra does not
install cannot be imported (a meta-path blocker loaded through sitecustomize on PYTHONPATH)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECONSTRUCT_ONLY = ("torch", "librosa", "soundfile", "pymatreader", "h5py", "skimage", "sklearn", "mne")
WEB_ONLY = ("flask", "flask_wtf", "wtforms", "werkzeug", "flask_limiter", "flask_babel", "alembic", "psycopg",
            "gunicorn", "requests", "pyloudnorm")
ANALYSIS_ONLY = ("scipy", "statsmodels", "matplotlib", "threadpoolctl")
BLOCKED = {"analysis": RECONSTRUCT_ONLY + WEB_ONLY, "web": RECONSTRUCT_ONLY + ANALYSIS_ONLY}

BLOCKER = '''
import os, sys
from importlib.abc import MetaPathFinder

BLOCKED = set(os.environ["TUNEBACK_TEST_BLOCKED"].split(","))

class Blocker(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (not installed by this extra)", name=name)
        return None

sys.meta_path.insert(0, Blocker())
'''


def run_with_only(extra: str, args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """`python -m tuneback.cli ARGS` where only the base dependencies and `extra` can be imported."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}", "TUNEBACK_TEST_BLOCKED": ",".join(BLOCKED[extra]),
           "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "tuneback.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_blocker_blocks(tmp_path):
    done = run_with_only("analysis", ["reconstruct", "--help"], tmp_path)
    assert done.returncode != 0 and "not installed by this extra" in done.stderr


@pytest.mark.parametrize("extra", ["analysis", "web"])
def test_top_level_help_needs_no_group(extra, tmp_path):
    done = run_with_only(extra, ["--help"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert all(verb in done.stdout for verb in ("analyze", "experiment", "reconstruct", "demo"))


def test_analysis_extra_runs_analyze(tmp_path):
    from analysis.synthetic import synthetic_table

    export = tmp_path / "export.csv"
    synthetic_table(8, accuracy=0.8, trials=12, seed=1).to_csv(export, index=False)
    done = run_with_only("analysis", ["analyze", "--export", str(export), "--out", str(tmp_path / "out"),
                                      "--power-reps", "5"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "results.json").exists() and (tmp_path / "out" / "report.html").exists()


def test_web_extra_runs_experiment_verbs(tmp_path):
    done = run_with_only("web", ["experiment", "serve", "--help"], tmp_path)
    assert done.returncode == 0 and "--port" in done.stdout, done.stderr
    db = f"sqlite:///{tmp_path / 'web.sqlite'}"
    done = run_with_only("web", ["experiment", "migrate", "--db", db], tmp_path)
    assert done.returncode == 0 and "database at revision" in done.stdout, done.stderr
