"""The `tuneback` command: the one place that joins reconstruct, experiment and analysis.

Each group is imported only when its verb runs, so an install with only the `analysis` (or `web`) extra runs its
own verbs without torch, librosa or soundfile (issue 27; tests/test_cli_extras.py)."""

from __future__ import annotations

import importlib

import click

from tuneback_core.clirun import run_click

COMMANDS: dict[str, tuple[str, str, str]] = {
    "admin": ("experiment.cli", "admin_cli", "Experimenter accounts of the admin panel (/admin)."),
    "analysis": ("analysis.cli", "cli", "Statistics of the listening study: accuracy against chance."),
    "analyze": ("analysis.cli", "analyze_command", "Analyse a study from an export file or the database."),
    "demo": ("tuneback.demo", "cli", "Run everything on the embedded SIMULATED data set, then serve the study."),
    "experiment": ("experiment.cli", "cli", "Run the AB-X listening study: create it from the clips' manifest."),
    "reconstruct": ("reconstruct.cli", "cli", "Turn EEG + songs into the study's 48 five-second clips."),
}
"""verb -> (module, attribute, one-line help): the help is here so that `tuneback --help` imports no group."""


class LazyGroup(click.Group):
    """A group whose subcommands are imported when they are invoked, not when the CLI is built."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands or name not in COMMANDS:
            return self.commands.get(name)
        module, attribute, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2] if name in COMMANDS else self.commands[name].get_short_help_str())
                for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def build_cli() -> click.Group:
    """The top-level group; each package's group is loaded on first use."""

    @click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="tuneback")
    def tuneback() -> None:
        """Reconstruct music from EEG and prove it with listeners (EEG2Mel and beyond)."""

    return tuneback


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, turning any TunebackError into a one-line message and exit status 2."""
    run_click(build_cli(), argv, prog_name="tuneback")


if __name__ == "__main__":
    main()
