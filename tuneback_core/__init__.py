"""The few things every tuneback package shares: the base error and the version. Depends on nothing of ours.

reconstruct/, experiment/, analysis/ and loadbot/ import from here; the `tuneback` CLI package depends on
this module, never the reverse (issue 27)."""

from __future__ import annotations

import subprocess
from pathlib import Path

__version__ = "0.1.0"


def code_version() -> str:
    """The version every artefact records (manifests, analysis results): the package version, plus the git
    commit when run from a checkout (`0.1.0+git.abc1234`)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+git.{sha}" if sha else __version__
