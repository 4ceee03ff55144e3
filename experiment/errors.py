"""The experiment package's error: bad manifests, impossible designs, unknown studies."""

from __future__ import annotations

from tuneback_core.errors import TunebackError


class ExperimentError(TunebackError):
    """A user-facing experiment error; the message says what is wrong and, where possible, how to fix it."""


class Conflict(Exception):
    """A request that does not fit the session's state (HTTP 409): `code` for machines, message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
