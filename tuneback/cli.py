"""The `tuneback` command: the one place that joins reconstruct, experiment and analysis."""

from __future__ import annotations

import click

from tuneback.clirun import run_click


def _groups() -> list[click.Command]:
    """Each package's click group, plus the demo."""
    import importlib

    return [importlib.import_module(name).cli
            for name in ("reconstruct.cli", "experiment.cli", "analysis.cli", "tuneback.demo")]


def build_cli() -> click.Group:
    """Assemble the top-level group from the packages' groups."""

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="tuneback")
    def tuneback() -> None:
        """Reconstruct music from EEG and prove it with listeners (EEG2Mel and beyond)."""

    for group in _groups():
        tuneback.add_command(group)
    from analysis.cli import analyze_command
    from experiment.cli import admin_cli

    tuneback.add_command(analyze_command, name="analyze")
    tuneback.add_command(admin_cli, name="admin")
    return tuneback


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, turning any TunebackError into a one-line message and exit status 2."""
    run_click(build_cli(), argv, prog_name="tuneback")


if __name__ == "__main__":
    main()
