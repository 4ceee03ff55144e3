"""The experiment package's error: bad manifests, impossible designs, unknown studies."""

from __future__ import annotations

from tuneback_core.errors import TunebackError


class ExperimentError(TunebackError):
    """A user-facing experiment error; the message says what is wrong and, where possible, how to fix it."""
