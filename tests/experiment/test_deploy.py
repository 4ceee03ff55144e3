"""Deployment: the app behind a proxy (PROXY_HOPS), `python -m experiment`, and a Dockerfile that still fits the code.

Docker itself cannot run here (no engine): these tests keep the image's file list and package list honest.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import subprocess
import sys
from pathlib import Path

import pytest

from experiment import create_app
from experiment_client import SECRET
from tuneback.extras import requirements

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
IMAGE_EXTRAS = ["web", "analysis"]


def _app(tmp_path, **extra):  # noqa: ANN001, ANN202
    return create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", "SECRET_KEY": SECRET, "TESTING": True,
                       "MIGRATE_ON_START": True, "INSTANCE_PATH": str(tmp_path / "instance"), **extra})


def test_behind_one_proxy_the_client_address_and_scheme_come_from_it(tmp_path):
    app = _app(tmp_path, PROXY_HOPS=1)

    @app.get("/_whoami")
    def whoami() -> dict:
        from flask import request

        return {"addr": request.remote_addr, "secure": request.is_secure}

    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    body = app.test_client().get("/_whoami", headers=forwarded, environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert body == {"addr": "203.0.113.7", "secure": True}


def test_without_proxy_hops_forwarded_headers_are_ignored(tmp_path):
    app = _app(tmp_path)

    @app.get("/_whoami")
    def whoami() -> dict:
        from flask import request

        return {"addr": request.remote_addr, "secure": request.is_secure}

    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    body = app.test_client().get("/_whoami", headers=forwarded, environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert body == {"addr": "10.0.0.2", "secure": False}  # a client cannot claim another address


def test_python_m_experiment_runs_the_commands(sqlite_url):
    done = subprocess.run([sys.executable, "-m", "experiment", "migrate", "--db", sqlite_url], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "database at revision" in done.stdout, done.stderr
    bad = subprocess.run([sys.executable, "-m", "experiment", "create", "--manifest", __file__, "--db", sqlite_url],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr


def test_dockerfile_copies_files_that_exist():
    sources = [s for line in DOCKERFILE.splitlines() if line.startswith("COPY")
               for s in line.split()[1:-1] if not s.startswith("--")]
    assert sources and all((ROOT / s).exists() for s in sources), sources


def test_the_image_copies_every_tuneback_module_the_app_imports():
    """The image copies tuneback_core/ (the shared error and version), never the CLI package tuneback/."""
    copied = {s for line in DOCKERFILE.splitlines() if line.startswith("COPY") for s in line.split()[1:-1]}
    needed = {n.split(".")[0] for folder in ("experiment", "analysis", "loadbot") for n in _modules(ROOT / folder)
              if n.split(".")[0] in ("tuneback", "tuneback_core")}
    assert needed == {"tuneback_core"} and "tuneback_core" in copied, needed


def _modules(folder: Path) -> set[str]:
    """Dotted names of every absolute import in the folder's Python files."""
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
    return names


def _imports(folder: Path) -> set[str]:
    names = {n.split(".")[0] for n in _modules(folder)}
    return names - set(sys.stdlib_module_names) - {"experiment", "analysis", "loadbot", "tuneback", "tuneback_core", "__future__"}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(names: set[str]) -> set[str]:
    """The distributions and everything they require (as installed here)."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" in req:
                continue
            todo.append(_normal(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0]))
    return seen


def _name(requirement: str) -> str:
    return _normal(re.split(r"[ ;<>=!~\[(]", requirement, maxsplit=1)[0])


def _run_commands() -> list[str]:
    """Every command of the Dockerfile's RUN instructions (continuations joined, split at &&)."""
    text = DOCKERFILE.replace("\\\n", " ")
    return [c.strip() for line in text.splitlines() if line.startswith("RUN ") for c in line[4:].split("&&")]


def test_the_image_installs_the_pyproject_extras_and_pins_nothing_of_its_own():
    """The image's install list is the web and analysis extras of pyproject.toml, not a list of its own."""
    commands = _run_commands()
    made = [re.fullmatch(r"python (\S+extras\.py) ([\w ]+?) > (\S+)", c) for c in commands]
    made = [m for m in made if m]
    assert len(made) == 1 and made[0].group(2).split() == IMAGE_EXTRAS, commands
    assert re.search(r"^COPY .*\bpyproject\.toml\b", DOCKERFILE, re.M)
    installs = [c for c in commands if re.search(r"\bpip3? install\b", c)]
    assert installs == [f"pip install -r {made[0].group(3)}"], installs
    assert not re.search(r"[\w\]]==\d", DOCKERFILE), "the Dockerfile pins a version of its own"


def test_the_image_extras_leave_torch_out_and_reconstruct_pins_it():
    names = {_name(r) for r in requirements(IMAGE_EXTRAS)}
    assert "torch" not in _closure(names) and {"flask", "gunicorn", "statsmodels"} <= names
    assert "torch==2.13.0" in requirements(["reconstruct"])
    assert set(requirements(["all"])) == set(requirements(["reconstruct", "web", "analysis"]))


@pytest.mark.parametrize("extra", ["nope", "", "web]"])
def test_an_unknown_extra_is_refused_by_name(extra):
    with pytest.raises(ValueError, match="no extra"):
        requirements([extra])


@pytest.mark.parametrize("package", ["experiment", "analysis", "loadbot"])
def test_the_image_installs_every_package_the_app_imports(package):
    """Adding an import to experiment/, analysis/ or loadbot/ without adding it to the image's extras breaks it."""
    installed = _closure({_name(r) for r in requirements(IMAGE_EXTRAS)})
    distributions = md.packages_distributions()
    missing = {}
    for module in _imports(ROOT / package):
        dists = {_normal(d) for d in distributions.get(module, [module])}
        if not dists & installed:
            missing[module] = sorted(dists)
    assert not missing, f"imported by {package}/ but not in the image's extras {IMAGE_EXTRAS}: {missing}"
