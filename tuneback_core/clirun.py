"""Run a click command the way every tuneback entry point does: user errors as one line, never a traceback."""

from __future__ import annotations

import sys

import click

from tuneback_core.errors import TunebackError


def run_click(command: click.Command, argv: list[str] | None = None, prog_name: str | None = None) -> None:
    """Invoke `command`; a TunebackError becomes `error: …` on stderr and exit status 2."""
    try:
        command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except TunebackError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
