"""The load-test bot's error: a run that cannot start (bad settings, no server, no open study, no free place)."""

from __future__ import annotations

from tuneback_core.errors import TunebackError


class LoadbotError(TunebackError):
    """A user-facing simulation error; the CLI prints it as one line (the bot imports nothing of the web app)."""
