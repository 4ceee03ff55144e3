"""The requirements of some of the package's extras, read from pyproject.toml (the image installs from here).

The web image uses the code in place (PYTHONPATH) and installs only what its extras need, so that
pyproject.toml stays the one list of dependencies: `python -m tuneback.extras web analysis` prints them, one
per line, for `pip install -r`.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
SELF_RE = re.compile(r"^tuneback\[([^\]]*)\]$")


def requirements(extras: list[str], pyproject: Path = PYPROJECT) -> list[str]:
    """The base dependencies plus those of `extras` (self-references like tuneback[web] followed), deduplicated."""
    project = tomllib.loads(pyproject.read_text())["project"]
    optional = project.get("optional-dependencies", {})
    out: list[str] = list(project.get("dependencies", []))
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop(0)
        if extra in seen:
            continue
        if extra not in optional:
            raise ValueError(f"pyproject.toml has no extra {extra!r} (it has: {', '.join(sorted(optional))})")
        seen.add(extra)
        for req in optional[extra]:
            inner = SELF_RE.match(req.replace(" ", ""))
            if inner:
                todo.extend(e for e in inner.group(1).split(",") if e)
            else:
                out.append(req)
    return list(dict.fromkeys(out))


def main(argv: list[str] | None = None) -> int:
    """Print the requirements of the extras named on the command line."""
    args = sys.argv[1:] if argv is None else argv
    try:
        print("\n".join(requirements(args)))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
