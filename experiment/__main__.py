"""`python -m experiment …`: the `tuneback experiment` commands without importing reconstruct/ (and torch).

The web image (Dockerfile) installs only what the app needs, so it runs `python -m experiment migrate`,
`python -m experiment create --manifest …`, `python -m experiment admin create-user NAME`, and so on.
"""

from __future__ import annotations

from experiment.cli import cli
from tuneback_core.clirun import run_click


def main(argv: list[str] | None = None) -> None:
    """Run the experiment group; a TunebackError is one line on stderr and exit status 2 (as `tuneback` does)."""
    run_click(cli, argv, prog_name="python -m experiment")


if __name__ == "__main__":
    main()
