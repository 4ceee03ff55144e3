"""Errors raised by the analysis; the CLI prints them as one line."""

from tuneback_core.errors import TunebackError


class AnalysisError(TunebackError):
    """The analysis cannot proceed: bad input table, unknown study, nothing left to score."""
